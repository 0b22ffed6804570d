"""Reading manifests for local mode: limits, shapes, and one-line errors naming the file."""

from __future__ import annotations

import pytest

from atlas_operator.operator.manifests import ManifestError, load_manifests, secret_data

SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [b\n", r"m.yaml: line 2, column 1: while parsing a flow sequence"),
        ("a: &a [*a]\n", r"m.yaml: line 1: alias \*a refers to a node that contains it"),
        ("a: !!python/name:os.system\n", "could not determine a constructor"),
        ("- a\n", r"m.yaml: document 1: expected a mapping \(a Kubernetes object\), got a list"),
        ("apiVersion: v1\nmetadata: {name: x}\n", "document 1: kind is required"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: x\n", r"\(ConfigMap\): metadata is required"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", r"metadata.name is required"),
        (
            SECRET + "stringData: {url: 5}\n",
            r'\(Secret "creds"\): stringData.url: must be a string',
        ),
        (SECRET + "data: [x]\n", "data must be a mapping"),
    ],
)
def test_bad_documents_name_the_file_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        load_manifests(text, "m.yaml")


def test_empty_documents_are_skipped_and_secrets_decoded() -> None:
    (manifest,) = load_manifests(
        "---\n---\n" + SECRET + "data: {a: aGk=}\nstringData: {b: there}\n", "m.yaml"
    )
    assert secret_data(manifest) == {"a": "hi", "b": "there"}


def test_secret_data_that_is_not_base64_is_an_error_without_the_value() -> None:
    (manifest,) = load_manifests(SECRET + "data: {a: 'not base64!'}\n", "m.yaml")
    with pytest.raises(ManifestError, match=r"data\.a: not base64-encoded UTF-8 text$"):
        secret_data(manifest)
