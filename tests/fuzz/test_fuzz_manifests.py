"""Manifests through local-mode reconcile (`atlas-operator reconcile -f`) in-process:
exit 0, or exit 1 with one line naming the file; YAML bombs fail fast."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from atlas_operator.cli import main
from atlas_operator.cli_reconcile import load_documents, parse_resource
from atlas_operator.operator.manifests import ManifestError, load_manifests
from tests.fuzz.common import captured, expect_only, iterations, mutate, pick, run_cli

SECRET_VALUE = "sqlite://fuzz.db"


LONG_FAILING_SQL = "CREATE TABLE t (" + ", ".join(f"c{i} int" for i in range(6000)) + ", KEY);"
SCHEMA_SPECS: list[dict[str, Any]] = [
    {"url": "sqlite://fuzz.db", "schema": {"sql": "CREATE TABLE t (id int);"}},
    {"urlFrom": {"secretKeyRef": {"name": "creds", "key": "url"}}, "schema": {"sql": "x"}},
    {"url": "sqlite://fuzz.db", "schema": {"hcl": 'table "t" {}'}},
    {"url": 5, "schema": {"sql": ["a"]}},
    {"url": "mysql://u:p@h/db?charset=bogus", "schema": {"sql": "SELECT 1"}},
    # A failure message longer than a Condition may hold (it is truncated).
    {"url": "sqlite://fuzz.db", "schema": {"sql": LONG_FAILING_SQL}},
]
MIGRATION_SPECS: list[dict[str, Any]] = [
    {"url": "sqlite://fuzz.db", "dir": {"local": {"1.sql": "CREATE TABLE m (id int);"}}},
    {"url": "sqlite://fuzz.db", "dir": {"local": {"1_a.sql": "SELECT 1;", "1_b.sql": "SELECT 2;"}}},
    {"url": "sqlite://fuzz.db", "dir": {"local": {"1.sql": 7}}},
]


def schema_doc(rng: random.Random) -> dict[str, Any]:
    valid = rng.random() < 0.8
    kind = pick(rng, ["AtlasSchema", "AtlasMigration"] if valid else ["AtlasBogus"])
    return {
        "apiVersion": "db.atlasgo.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "s"}
        if valid
        else pick(rng, [{"name": ""}, {}, "s", None, {"name": 3}]),
        "spec": pick(rng, MIGRATION_SPECS if kind == "AtlasMigration" else SCHEMA_SPECS),
    }


def secret_doc(rng: random.Random) -> dict[str, Any]:
    valid = rng.random() < 0.8
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "stringData": {"url": SECRET_VALUE if valid else pick(rng, [42, True, None, ["x"]])},
        "data": {} if valid else pick(rng, [{"x": "bm90IGI2NA"}, {"x": "!!"}, None, []]),
    }


def random_manifest(rng: random.Random) -> str:
    documents = [schema_doc(rng) for _ in range(rng.randint(1, 2))] + [secret_doc(rng)]
    text = yaml.safe_dump_all(documents, sort_keys=False)
    roll = rng.random()
    if roll < 0.2:
        return mutate(text, rng, rounds=5)
    if roll < 0.3:
        return text + pick(rng, YAML_ODDITIES)
    return text


YAML_ODDITIES = [
    "---\n!!python/object:os.system x\n",
    "---\na: &a [*a]\n",
    "---\na: *undefined\n",
    "---\n" + "[" * 200 + "]" * 200 + "\n",
    "---\n{a: 1, a: 2}\n",
    "---\n? [x]\n: y\n",
    "---\n- just a list\n",
    "---\n\t\x00tab\n",
    "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: !!binary aGk=}\n",
]


def test_loader_never_crashes() -> None:
    rng = random.Random("manifests-load")
    for _ in range(iterations(400)):
        text = random_manifest(rng)

        def load(text: str = text) -> None:
            for manifest in load_manifests(text, "m.yaml"):
                if manifest.body.get("apiVersion") == "db.atlasgo.io/v1alpha1":
                    parse_resource(manifest)

        err = expect_only(load, (ManifestError,), repr(text))
        if err is not None:
            assert str(err).startswith("m.yaml: "), str(err)
            assert SECRET_VALUE not in str(err)


def test_local_reconcile_never_crashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rng = random.Random("manifests-reconcile")
    manifest = tmp_path / "m.yaml"
    for _ in range(iterations(60)):
        text = random_manifest(rng)
        manifest.write_text(text, errors="surrogatepass")
        run_cli(["reconcile", "-f", str(manifest)], repr(text))


def bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n" + "".join(
        f"  {line}\n" for line in lines
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (bomb(9), "expands to more than"),
        ("a: &a [*a]\n", "recursive structure"),
        ("a: " + "[" * 150 + "]" * 150, "nested more than"),
        ("a: [b\n", "m.yaml: line"),
        ("!!python/object/apply:os.system [x]\n", "could not determine a constructor"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n", "metadata is required and must be"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "metadata.name is required"),
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {url: 5}\n",
            'document 1 (Secret "s"): stringData.url: must be a string, got a number',
        ),
    ],
)
def test_bad_manifests_fail_fast_naming_the_file(text: str, message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ManifestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_manifests(text, "m.yaml")
    assert time.perf_counter() - started < 1


def test_a_failure_message_over_the_condition_limit_is_truncated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    document = {
        "apiVersion": "db.atlasgo.io/v1alpha1",
        "kind": "AtlasSchema",
        "metadata": {"name": "s"},
        "spec": {"url": "sqlite://fuzz.db", "schema": {"sql": LONG_FAILING_SQL}},
    }
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(document))
    with captured() as (out, _):
        assert main(["reconcile", "-f", "m.yaml"]) == 1
    (status,) = yaml.safe_load_all(out.getvalue())
    ready = next(c for c in status["status"]["conditions"] if c["type"] == "Ready")
    assert len(ready["message"]) <= 32768
    assert ready["message"].endswith("… (truncated)")


def test_a_large_manifest_is_refused_or_loaded_fast(tmp_path: Path) -> None:
    data = "".join(f"  key{i}: value number {i}\n" for i in range(400_000))  # ~10 MB
    path = tmp_path / "big.yaml"
    path.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata:\n{data}")
    started = time.perf_counter()
    with pytest.raises(ManifestError, match="over the limit"):
        load_documents([str(path)])
    assert time.perf_counter() - started < 1


def test_resource_field_errors_name_the_document(tmp_path: Path) -> None:
    text = (
        "apiVersion: db.atlasgo.io/v1alpha1\nkind: AtlasSchema\nmetadata: {name: s}\n"
        "spec: {url: 5}\n"
    )
    (manifest,) = load_manifests(text, "m.yaml")
    with pytest.raises(ManifestError, match=r'm.yaml: document 1 \(AtlasSchema "s"\): spec.url'):
        parse_resource(manifest)
