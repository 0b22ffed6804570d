"""Atlas HCL through the evaluator: `HCLError` naming the block, or a realm; and the
wrong successes of issue 12 (duplicates, unknown attributes, wrong types) are errors."""

from __future__ import annotations

import random
from functools import partial

import pytest

from atlas_operator.engine.hcl import HCLError, parse_hcl
from tests.fuzz.common import expect_only, iterations, mutate, pick

ATTRIBUTES = [
    "type = int",
    "type = varchar(255)",
    'type = sql("varchar(100)")',
    "null = true",
    "null = false",
    'default = "anon"',
    "default = 0",
    'default = sql("now()")',
    'comment = "c"',
    "auto_increment = true",
    'null = "yes"',
    'unique = "x"',
    "null = null",
    "unsigned = true",
    "type = enum.status",
    'charset = "utf8mb4"',
    "type = 3",
    "comment = <<EOF\nhello\nEOF",
    "default = [1, 2]",
    "default = {a = 1}",
]
TABLE_PARTS = [
    "primary_key {\n    columns = [column.id]\n  }",
    'index "i" {\n    unique = true\n    columns = [column.id]\n  }',
    'index "e" {\n    on {\n      expr = "lower(name)"\n      desc = true\n    }\n  }',
    'foreign_key "fk" {\n    columns = [column.id]\n    ref_columns = [table.users.column.id]\n'
    "    on_delete = CASCADE\n  }",
    'check "positive" {\n    expr = "id > 0"\n  }',
    'comment = "a table"',
    "primary_key {\n    columns = [column.id]\n  }\n  primary_key {\n    columns = []\n  }",
    'for_each = ["a"]',
    'column "id" {\n    type = int\n  }',
]


def random_hcl(rng: random.Random) -> str:
    tables = []
    for index in range(rng.randint(1, 3)):
        name = pick(rng, ["users", "posts", f"t{index}"])
        columns = "\n".join(
            f'  column "{pick(rng, ["id", "name", "bio"])}" {{\n'
            + "\n".join(f"    {pick(rng, ATTRIBUTES)}" for _ in range(rng.randint(0, 3)))
            + "\n  }"
            for _ in range(rng.randint(1, 3))
        )
        parts = "\n".join(f"  {pick(rng, TABLE_PARTS)}" for _ in range(rng.randint(0, 3)))
        tables.append(f'table "{name}" {{\n  schema = schema.public\n{columns}\n{parts}\n}}\n')
    text = 'schema "public" {}\n' + "".join(tables)
    return mutate(text, rng, rounds=4) if rng.random() < 0.4 else text


def test_evaluator_never_crashes() -> None:
    rng = random.Random("hcl")
    for _ in range(iterations(250)):
        text = random_hcl(rng)
        err = expect_only(partial(parse_hcl, text), (HCLError,), repr(text))
        if err is not None:
            assert str(err).startswith("schema.hcl:"), str(err)


USERS = 'schema "public" {}\ntable "users" {\n  schema = schema.public\n%s\n}\n'
COLUMN = '  column "id" {\n    type = int\n    %s\n  }'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            USERS % (COLUMN % 'null = "yes"'),
            'schema.hcl: table "users": column "id": attribute "null" must be a bool, '
            'got string "yes"',
        ),
        (USERS % (COLUMN % 'unique = "x"'), 'column "id": unknown attribute "unique"'),
        (USERS % (COLUMN % "unsigned = true"), 'column "id": unknown attribute "unsigned"'),
        (USERS % (COLUMN % "null = true\n    null = false"), 'attribute "null" is defined twice'),
        (
            USERS % (COLUMN % "") + 'table "users" {\n  schema = schema.public\n}\n',
            'table "users": defined twice in schema "public"',
        ),
        (USERS % (COLUMN % "") + 'schema "public" {}\n', 'schema "public": defined twice'),
        (
            USERS % (COLUMN % "" + "\n" + COLUMN % ""),
            'table "users": column "id": defined twice',
        ),
        (
            USERS
            % (COLUMN % "" + '\n  index "i" {\n    unique = "yes"\n    columns = [column.id]\n  }'),
            'index "i": attribute "unique" must be a bool, got string "yes"',
        ),
        (USERS % (COLUMN % "identity {\n start = true\n }"), '"start" must be an integer'),
        (USERS % (COLUMN % "") + 'table "x" {\n  schema = "public"\n}\n', "must be a reference"),
    ],
)
def test_wrong_successes_are_errors(text: str, message: str) -> None:
    with pytest.raises(HCLError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_hcl(text)
