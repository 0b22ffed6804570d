"""Atlas's own lexer test data (tests/engine/testdata/lex*, copied from ariga/atlas
sql/migrate/testdata), compared statement for statement as Atlas's lex_test.go does: the
statement texts of each `X.sql`, joined with "\\n-- end --\\n", must equal `X.sql.golden`
byte for byte (positions and comments are not part of that comparison; the inline cases of
lex_test.go below check them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas_operator.engine.statements import ScanOptions, SplitError, scan_statements

TESTDATA = Path(__file__).parent / "testdata"


def sql_files(directory: str) -> list[Path]:
    return sorted((TESTDATA / directory).glob("*.sql"))


def joined(path: Path, options: ScanOptions) -> str:
    statements = scan_statements(path.read_text(), options)
    return "\n-- end --\n".join(s.text for s in statements)


def golden(path: Path) -> str:
    return path.with_name(path.name + ".golden").read_text()


@pytest.mark.parametrize("path", sql_files("lex"), ids=lambda p: p.name)
def test_lex(path: Path) -> None:
    options = ScanOptions(
        match_begin=True,
        match_begin_atomic=True,
        match_dollar_quote=True,
        backslash_escapes=True,
        escaped_string_ext=True,
        hash_comments="_pg" not in path.name,
        go_command="_ms" in path.name,
    )
    assert joined(path, options) == golden(path)


@pytest.mark.parametrize("path", sql_files("lexgroup"), ids=lambda p: p.name)
def test_lexgroup(path: Path) -> None:
    assert joined(path, ScanOptions(match_begin=True)) == golden(path)


@pytest.mark.parametrize("path", sql_files("lexbegintry"), ids=lambda p: p.name)
def test_lexbegintry(path: Path) -> None:
    options = ScanOptions(
        match_begin=True,
        match_begin_atomic=True,
        match_begin_try_catch=True,
        match_dollar_quote=True,
        backslash_escapes=True,
        escaped_string_ext=True,
    )
    assert joined(path, options) == golden(path)


def test_lexescaped() -> None:
    mysql, postgres = sql_files("lexescaped")
    assert (mysql.name, postgres.name) == ("1.my.sql", "2.pg.sql")
    backslashes = ScanOptions(backslash_escapes=True)
    assert joined(mysql, backslashes) == golden(mysql)
    with pytest.raises(SplitError, match=r"unclosed quote .* at line 4"):
        joined(postgres, backslashes)
    extension = ScanOptions(escaped_string_ext=True)
    with pytest.raises(SplitError, match=r"unclosed quote .* at line 4"):
        joined(mysql, extension)
    assert joined(postgres, extension) == golden(postgres)


STMT_DECLS = """cmd0;
-- test
cmd1;

-- hello
-- world
cmd2;

-- skip
-- this
# comment

/* Skip this as well */

# Skip this
/* one */

# command
cmd3;

/* comment1 */
/* comment2 */
cmd4;

--atlas:nolint
-- atlas:nolint destructive
cmd5;

#atlas:lint error
/*atlas:nolint DS101*/
/* atlas:lint not a directive */
/*
atlas:lint not a directive
*/
cmd6;

-- atlas:nolint
cmd7;
"""


def test_statement_positions_comments_and_directives() -> None:
    """lex_test.go's TestLocalFile_StmtDecls."""
    options = ScanOptions(
        match_begin=True,
        match_begin_atomic=True,
        match_dollar_quote=True,
        backslash_escapes=True,
        escaped_string_ext=True,
        hash_comments=True,
    )
    statements = scan_statements(STMT_DECLS, options)
    assert [s.text for s in statements] == [f"cmd{i};" for i in range(8)]
    assert [s.position for s in statements] == [STMT_DECLS.index(s.text) for s in statements]
    assert [s.comments for s in statements[:7]] == [
        (),
        ("-- test\n",),
        ("-- hello\n", "-- world\n"),
        ("# command\n",),
        ("/* comment1 */", "/* comment2 */"),
        ("--atlas:nolint\n", "-- atlas:nolint destructive\n"),
        (
            "#atlas:lint error\n",
            "/*atlas:nolint DS101*/",
            "/* atlas:lint not a directive */",
            "/*\natlas:lint not a directive\n*/",
        ),
    ]
    assert statements[5].directives("nolint") == ["", "destructive"]
    assert statements[6].directives("lint") == ["error"]
    assert statements[6].directives("nolint") == ["DS101"]
    assert statements[7].directives("nolint") == [""]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("'this quote is unclosed at 1:1", 'unclosed quote "\'" opened at line 1'),
        ("12345'this quote is unclosed at pos 7", "unclosed quote"),
        ("unclosed '", "unclosed quote"),
        ('"unclosed double', "unclosed quote '\"'"),
        ('unclosed double at 2:2\n "', "unclosed quote '\"' opened at line 2"),
        ('unclosed double at 2:2\n\n\n\n1234"', "unclosed quote '\"' opened at line 5"),
        ("(unclosed parentheses", r"unclosed '\(' opened at line 1"),
        ("()(unclosed parentheses", r"unclosed '\('"),
        ("1234)6789", r"unexpected '\)'"),
    ],
)
def test_errors(sql: str, message: str) -> None:
    """lex_test.go's TestLex_Errors, with Atlas's default (generic) options."""
    generic = ScanOptions(match_begin_atomic=True, match_dollar_quote=True)
    with pytest.raises(SplitError, match=message):
        scan_statements(sql, generic)
