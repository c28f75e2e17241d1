"""Every malformed config gets one clear message: file, key path, expectation; exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import MINIMAL
from vhframe.cli import app
from vhframe.config import load_config, locate
from vhframe.errors import ConfigError


def _replace(old: str, new: str) -> str:
    assert old in MINIMAL
    return MINIMAL.replace(old, new)


# (id, config text, key path expected in the message, expected message fragment)
CASES: list[tuple[str, str, str, str]] = [
    (
        "unknown-top-level-section",
        MINIMAL + "\n[runn]\nseed = 1\n",
        "runn",
        "unknown section [runn]; did you mean [run]?",
    ),
    (
        "unknown-nested-key",
        MINIMAL + "\n[generation]\ntop_k = 5\n",
        "generation.top_k",
        "unknown key 'top_k' in [generation]",
    ),
    (
        "top-p-out-of-range",
        MINIMAL + "\n[generation]\ntop_p = 1.5\n",
        "generation.top_p",
        "expected a value <= 1",
    ),
    (
        "temperature-wrong-type",
        MINIMAL + '\n[generation]\ntemperature = "hot"\n',
        "generation.temperature",
        "expected a number, found a string",
    ),
    (
        "negative-seed",
        _replace("[run]\n", "[run]\nseed = -1\n"),
        "run.seed",
        "expected a value >= 0",
    ),
    ("float-seed", _replace("[run]\n", "[run]\nseed = 1.5\n"), "run.seed", "expected an integer"),
    (
        "unknown-device",
        _replace("[run]\n", '[run]\ndevice = "tpu"\n'),
        "run.device",
        "expected one of 'auto', 'cpu' or 'cuda'",
    ),
    ("judges-missing", MINIMAL.split("[[judges]]")[0], "judges", "required key is missing"),
    (
        "benchmarks-empty",
        "benchmarks = []\n"
        + MINIMAL.split("[[benchmarks]]")[0].replace("[run]", "[run]", 1)
        + '[[judges]]\nuse = "vhframe:refusal"\n',
        "benchmarks",
        "expected at least 1",
    ),
    ("table-expected", 'profiles = "extreme"\n' + MINIMAL, "profiles", "expected a table"),
    (
        "unknown-plugin",
        _replace('use = "vhframe:refusal"', 'use = "nosuch:judge"'),
        "judges[0].use",
        "no plugin named 'nosuch' is installed",
    ),
    (
        "unknown-component",
        _replace('use = "vhframe:refusal"', 'use = "vhframe:nojudge"'),
        "judges[0].use",
        "unknown judges component 'vhframe:nojudge'",
    ),
    (
        "component-name-format",
        _replace('use = "vhframe:refusal"', 'use = "refusal"'),
        "judges[0].use",
        "expected a component name like 'plugin:name'",
    ),
    (
        "missing-data-file",
        _replace('path = "builtin:sample"', 'path = "missing.csv"'),
        "benchmarks[0].params.path",
        "file not found",
    ),
    (
        "unknown-parameter",
        _replace('path = "builtin:sample"', 'pth = "x.csv"'),
        "benchmarks[0].params.pth",
        "unknown parameter for vhframe:hexphi",
    ),
    (
        "missing-parameter",
        MINIMAL + '\n[profiles]\nuse = "vhframe:table"\n',
        "profiles.params.path",
        "required parameter of vhframe:table is missing",
    ),
    (
        "bad-parameter-value",
        _replace('path = "builtin:sample" }', 'path = "builtin:sample", template = "Q: A:" }'),
        "benchmarks[0].params.template",
        "must contain '{prompt}'",
    ),
    (
        "unknown-profile-name",
        MINIMAL + '\n[profiles]\nuse = "vhframe:extreme"\nparams = { only = ["Nope"] }\n',
        "profiles.params.only",
        "unknown profile(s) ['Nope']",
    ),
    (
        "max-new-tokens-zero",
        MINIMAL + "\n[generation]\nmax_new_tokens = 0\n",
        "generation.max_new_tokens",
        "expected a value >= 1",
    ),
    (
        "unknown-baseline",
        MINIMAL + '\n[alignment]\nbaselines = ["bogus"]\n',
        "alignment.baselines[0]",
        "expected one of 'base' or 'roleplay'",
    ),
    (
        "trainer-without-values",
        MINIMAL + '\n[alignment]\ntrainer = { use = "hf:lora" }\n',
        "values",
        "a [values] dataset is required",
    ),
    (
        "missing-values-folder",
        MINIMAL + '\n[values]\nuse = "vhframe:touche23"\nparams = { path = "nowhere" }\n',
        "values.params.path",
        "folder not found",
    ),
    (
        "unknown-reporter",
        MINIMAL + '\n[report]\nreporters = ["vhframe:pdf"]\n',
        "report.reporters[0]",
        "unknown reporters component 'vhframe:pdf'",
    ),
    (
        "duplicate-judge",
        MINIMAL + '\n[[judges]]\nuse = "vhframe:refusal"\n',
        "judges[1].use",
        "listed twice",
    ),
    (
        "alpha-out-of-range",
        MINIMAL + "\n[analysis]\nalpha = 1.0\n",
        "analysis.alpha",
        "expected a value < 1",
    ),
    (
        "missing-model-folder",
        _replace('base = "builtin:tiny-llama"', 'base = "models/none"'),
        "model.base",
        "models/none': no such folder",
    ),
    ("invalid-toml", MINIMAL + "\n[generation\n", "", "invalid TOML"),
    (
        "unknown-survey",
        MINIMAL + '\n[survey]\nuse = "vhframe:pvq21"\n',
        "survey.use",
        "unknown surveys component 'vhframe:pvq21'",
    ),
    (
        "missing-survey-file",
        MINIMAL + '\n[survey]\nuse = "vhframe:pvq40"\nparams = { path = "pvq.csv" }\n',
        "survey.params.path",
        "file not found",
    ),
    (
        "benign-without-trainer",
        MINIMAL + '\n[[alignment.benign]]\nname = "grammar"\n'
        'data = { use = "vhframe:grammar", params = { path = "builtin:sample" } }\n',
        "alignment.benign[0]",
        "a benign baseline needs a trainer",
    ),
    (
        "benign-bad-name",
        MINIMAL + '\n[[alignment.benign]]\nname = "a b"\n'
        'data = { use = "vhframe:grammar", params = { path = "builtin:sample" } }\n',
        "alignment.benign[0].name",
        "a b",
    ),
    (
        "benign-unknown-dataset",
        MINIMAL + '\n[[alignment.benign]]\nname = "g"\ndata = { use = "vhframe:nope" }\n'
        'trainer = { use = "hf:lora" }\n',
        "alignment.benign[0].data.use",
        "unknown task_datasets component 'vhframe:nope'",
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_config(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    message = result.stderr
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output and "Traceback" not in message
    flat = " ".join(message.split())
    assert str(path) in flat.replace(" ", "") or path.name in flat
    if key:
        assert f": {key}:" in flat, flat
    assert fragment in flat, flat
    assert message.count("error:") == 1


# (id, text after [run] or appended, full message after "<file>:")
EXACT: list[tuple[str, str, str]] = [
    (
        "date",
        "[run]\nseed = 1979-05-27\n",
        "2: run.seed: expected an integer, found date (datetime.date(1979, 5, 27))",
    ),
    ("bool", "[run]\nseed = true\n", "2: run.seed: expected an integer, found a boolean (True)"),
    ("float", "[run]\nseed = 1.5\n", "2: run.seed: expected an integer, found a number (1.5)"),
    ("array", "[run]\nseed = [1]\n", "2: run.seed: expected an integer, found an array ([1])"),
    (
        "table",
        "[run]\nseed = {a = 1}\n",
        "2: run.seed: expected an integer, found a table ({'a': 1})",
    ),
    ("string", '[run]\nseed = "1"\n', "2: run.seed: expected an integer, found a string ('1')"),
    (
        "integer",
        "[run]\ncache_dir = 5\n",
        "2: run.cache_dir: expected a string, found an integer (5)",
    ),
    (
        "bool-type",
        '\n[report]\nopen = "yes"\n',
        "15: report.open: expected a boolean, found a string ('yes')",
    ),
    (
        "list-type",
        '\n[report]\nreporters = "vhframe:html"\n',
        "15: report.reporters: expected an array, found a string ('vhframe:html')",
    ),
    (
        "dict-type",
        '\n[executor]\nuse = "vhframe:local"\nparams = 3\n',
        "16: executor.params: expected a table, found an integer (3)",
    ),
    (
        "model-type",
        '\n[alignment]\ntrainer = "hf:lora"\n',
        "15: alignment.trainer: expected a table, found a string ('hf:lora')",
    ),
    (
        "greater-than",
        "\n[generation]\ntop_p = 0.0\n",
        "15: generation.top_p: expected a value > 0.0, found 0.0",
    ),
    (
        "less-than",
        "\n[analysis]\nalpha = 1.0\n",
        "15: analysis.alpha: expected a value < 1.0, found 1.0",
    ),
    (
        "less-equal",
        "\n[generation]\ntemperature = 6.0\n",
        "15: generation.temperature: expected a value <= 5.0, found 6.0",
    ),
    (
        "greater-equal",
        "\n[analysis]\nmin_subjects = 2\n",
        "15: analysis.min_subjects: expected a value >= 3, found 2",
    ),
    (
        "literal",
        '\n[analysis]\nadjust = "bonferroni"\n',
        "15: analysis.adjust: expected one of 'bh', 'holm' or 'none', found 'bonferroni'",
    ),
    (
        "unknown",
        "\n[analysis]\nalfa = 2\n",
        "15: analysis.alfa: unknown key 'alfa' in [analysis]; did you mean 'alpha'?",
    ),
    (
        "validator",
        '\n[executor]\nuse = "local"\n',
        "15: executor.use: expected a component name like 'plugin:name', found 'local'",
    ),
    (
        "spaced-header",
        '\n[ generation ]\n"top_p" = 1.5\n',
        "15: generation.top_p: expected a value <= 1.0, found 1.5",
    ),
]


@pytest.mark.parametrize(("extra", "message"), [c[1:] for c in EXACT], ids=[c[0] for c in EXACT])
def test_validation_messages_are_exact(tmp_path: Path, extra: str, message: str) -> None:
    text = MINIMAL.replace("[run]\n", extra, 1) if extra.startswith("[run]") else MINIMAL + extra
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:{message}"


def test_missing_key_message_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(MINIMAL.split("[[judges]]")[0], encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (str(info.value), info.value.line) == (
        f"{path}: judges: required key is missing; add a [[judges]] section",
        None,
    )


def test_file_and_toml_errors_are_exact(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: config file not found"
    path.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: cannot read config: 'utf-8' codec can't decode byte "
        "0xe9 in position 11: invalid continuation byte"
    )
    path.write_text(MINIMAL + "\n[generation\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.line, str(info.value)) == (
        14,
        (
            f"{path}:14: invalid TOML: Expected ']' at the end of a table declaration (at line 14, "
            "column 12)"
        ),
    )
    # tomllib names no line for an error at the end of the document
    path.write_text(MINIMAL + "\nx = ", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.line, str(info.value)) == (
        None,
        f"{path}: invalid TOML: Invalid value (at end of document)",
    )


def test_locate_headers_keys_and_fallbacks() -> None:
    text = (
        'title = "x"\n'  # 1
        "[ run ]  # comment\n"  # 2
        '"seed" = 3\n'  # 3
        "[[ benchmarks ]]\n"  # 4
        'use = "a:b"\n'  # 5
        "[[benchmarks]]\n"  # 6
        'use = "c:d"\n'  # 7
        "[benchmarks.params]\n"  # 8
        'path = "p"\n'  # 9
        "[alignment]\n"  # 10
        'baselines = ["base"]\n'  # 11
        "[alignment.trainer]\n"  # 12
        'use = "hf:lora"\n'  # 13
        "[generation]\n"  # 14
        "params = { top_k = 5 }\n"  # 15
    )
    assert locate(text, "title") == 1
    assert locate(text, "run.seed") == 3
    assert locate(text, "run.name") == 2  # absent key: its table's header
    assert locate(text, "benchmarks[0].use") == 5
    assert locate(text, "benchmarks[1].use") == 7
    assert locate(text, "benchmarks[1].params.path") == 9
    assert locate(text, "benchmarks[1].params.limit") == 8
    assert locate(text, "benchmarks[1].limit") == 6
    assert locate(text, "alignment.baselines[0]") == 11
    assert locate(text, "alignment.trainer.use") == 13
    assert locate(text, "alignment.trainer.params") == 12
    assert locate(text, "generation.params.top_k") == 15  # an inline table's key
    assert locate(text, "report.open") is None
    assert locate(text, "run") == 2
    assert locate("runs = 1\n[runner]\n", "run.seed") is None  # names that merely share a start
    assert locate("[a]\nb = 1\n", "a.c") == 1  # a one-letter table still serves as fallback
    spaced = '[alignment . trainer]\n"X" = 1\n'
    assert locate(spaced, "alignment.trainer.use") == 1
    assert locate(spaced, "alignment.trainer.X") == 2


def test_error_names_the_line(tmp_path: Path) -> None:
    text = MINIMAL + "\n[generation]\ntemperature = 0.1\ntop_p = 1.5\n"
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    expected_line = text.splitlines().index("top_p = 1.5") + 1
    assert info.value.line == expected_line
    assert f"bad.toml:{expected_line}: generation.top_p:" in str(info.value)


def test_locate_follows_arrays_of_tables() -> None:
    text = MINIMAL + '\n[[benchmarks]]\nuse = "vhframe:advbench"\n[benchmarks.params]\npath = "a"\n'
    lines = text.splitlines()
    assert locate(text, "benchmarks[1].params.path") == len(lines)
    assert (
        locate(text, "benchmarks[0].params.path")
        == lines.index('params = { path = "builtin:sample" }') + 1
    )
    assert locate(text, "judges[0].use") == lines.index('use = "vhframe:refusal"') + 1


def test_missing_config_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "config file not found" in result.stderr


def test_table_count() -> None:
    assert len(CASES) >= 15
