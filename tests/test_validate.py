"""``vhframe validate`` and ``vhframe run`` name every problem of a config in one pass: unknown
keys and sections with the nearest valid name, bad values, unknown components and parameters,
and the data files the config names, each with its file and line; exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from tests.conftest import MINIMAL, ROOT, shared
from vhframe.checks import check, component_errors
from vhframe.cli import app
from vhframe.config import load_config, locate
from vhframe.errors import ConfigError, ConfigErrors, DataError, UserError, combine
from vhframe.hookspecs import hookimpl
from vhframe.pipeline import Pipeline
from vhframe.plugins import PluginManager
from vhframe.testing import AdapterTrainer, FlagJudge, InstantGenerator

RAGGED = "prompt,category\nhow do I,a\nwhat if,b,one field too many\n"


def _write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _errors(result: Result) -> list[str]:
    """The CLI's error lines, without their ``error: `` prefix; checks exit 2, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert all(line.startswith("error: ") for line in lines), lines
    return [line.removeprefix("error: ") for line in lines]


def _validate(path: Path) -> list[str]:
    return _errors(CliRunner().invoke(app, ["validate", str(path)]))


def test_misspelt_key_names_the_nearest_valid_one(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "\n[generation]\ntemprature = 0.2\n")
    assert _validate(path) == [
        f"{path}:15: generation.temprature: unknown key 'temprature' in [generation]; "
        "did you mean 'temperature'?"
    ]


def test_judge_for_judges_is_one_mistake_with_its_fix(tmp_path: Path) -> None:
    # the misspelt section and the required one it leaves missing read as one error
    path = _write(tmp_path, MINIMAL.replace("[[judges]]", "[[judge]]"))
    assert _validate(path) == [
        f"{path}:11: judge: unknown section [[judge]]; did you mean [[judges]], which is required?"
    ]


def test_unknown_section_alone_is_named_with_the_missing_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, "[generaton]\ntemperature = 0.2\n")
    assert _validate(path) == [
        f"{path}:1: generaton: unknown section [generaton]; did you mean [generation]?",
        f"{path}: benchmarks: required key is missing; add a [[benchmarks]] section",
        f"{path}: judges: required key is missing; add a [[judges]] section",
    ]


def test_every_config_error_in_one_pass_in_line_order(tmp_path: Path) -> None:
    text = (
        "temperature = 0.3\n"  # 1
        "[run]\n"  # 2
        "seed = -1\n"  # 3
        'devise = "cpu"\n'  # 4
        "[[benchmark]]\n"  # 5
        'use = "vhframe:hexphi"\n'  # 6
        "[[judges]]\n"  # 7
        'use = "refusal"\n'  # 8
        "[generation]\n"  # 9
        "batch_size = 4\n"  # 10
        "top_p = 2\n"  # 11
        "[[alignment.benign]]\n"  # 12
        'nme = "x"\n'  # 13
        'data = { use = "vhframe:grammar" }\n'  # 14
    )
    path = _write(tmp_path, text)
    assert _validate(path) == [
        f"{path}:1: temperature: unknown top-level key 'temperature'; it belongs in [generation]",
        f"{path}:3: run.seed: expected a value >= 0, found -1",
        f"{path}:4: run.devise: unknown key 'devise' in [run]; did you mean 'device'?",
        f"{path}:5: benchmark: unknown section [[benchmark]]; did you mean [[benchmarks]], "
        "which is required?",
        f"{path}:8: judges[0].use: expected a component name like 'plugin:name', found 'refusal'",
        f"{path}:10: generation.batch_size: unknown key 'batch_size' in [generation]; expected "
        "one of: use, params, temperature, top_p, max_new_tokens, samples (settings of the "
        "component itself go in params)",
        f"{path}:11: generation.top_p: expected a value <= 1.0, found 2",
        f"{path}:13: alignment.benign[0].nme: unknown key 'nme' in [[alignment.benign]]; "
        "did you mean 'name', which is required?",
    ]
    with pytest.raises(ConfigErrors) as info:
        load_config(path)
    assert [e.line for e in info.value.errors] == [1, 3, 4, 5, 8, 10, 11, 13]
    assert isinstance(info.value, ConfigError) and info.value.file == str(path)
    assert str(info.value) == "\n".join(str(e) for e in info.value.errors)


NESTED: list[tuple[str, str]] = [
    (
        MINIMAL + '\n[alignment.trainr]\nuse = "hf:lora"\n',
        "14: alignment.trainr: unknown key 'trainr' in [alignment]; did you mean 'trainer'?",
    ),
    (
        MINIMAL + "\n[survey]\nparms = {}\n",
        "15: survey.parms: unknown key 'parms' in [survey]; did you mean 'params'?",
    ),
    (
        MINIMAL + '\n[[alignment.benign]]\nname = "a"\n'
        'data = { use = "vhframe:grammar", parms = {} }\n',
        "16: alignment.benign[0].data.parms: unknown key 'parms' in [alignment.benign.data]; "
        "did you mean 'params'?",
    ),
    (
        MINIMAL.replace("[run]\n", "[run]\nlimit = 3\n"),
        "2: run.limit: unknown key 'limit' in [run]; it belongs in [profiles] or [[benchmarks]]",
    ),
    (
        'use = "vhframe:refusal"\n' + MINIMAL,
        "1: use: unknown top-level key 'use'; expected one of: run, model, profiles, values, "
        "alignment, survey, generation, benchmarks, judges, mitigations, executor, analysis, "
        "report",
    ),
]


@pytest.mark.parametrize(("text", "message"), NESTED)
def test_nested_unknown_keys(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:{message}"


def test_components_and_parameters_in_one_pass(tmp_path: Path) -> None:
    text = (
        "[profiles]\n"  # 1
        'use = "vhframe:table"\n'  # 2
        "[generation]\n"  # 3
        'use = "hf:lora"\n'  # 4
        "[[benchmarks]]\n"  # 5
        'use = "vhframe:hexphi"\n'  # 6
        'params = { pth = "x.csv" }\n'  # 7
        "[[benchmarks]]\n"  # 8
        'use = "vhframe:advbnch"\n'  # 9
        "[[judges]]\n"  # 10
        'use = "vhframe:refusal"\n'  # 11
        'params = { extra_phrase = ["x"], foo = 1 }\n'  # 12
    )
    path = _write(tmp_path, text).resolve()
    errors = _validate(path)
    assert errors[:2] == [
        f"{path}:1: profiles.params.path: required parameter of vhframe:table is missing",
        f"{path}:4: generation.use: unknown generators component 'hf:lora'; known: "
        + errors[1].split("; known: ")[1],
    ]
    assert errors[1].endswith("; hf:lora is a trainers component")
    assert errors[2:] == [
        f"{path}:7: benchmarks[0].params.pth: unknown parameter for vhframe:hexphi; "
        "did you mean 'path', which is required?",
        f"{path}:9: benchmarks[1].use: unknown benchmarks component 'vhframe:advbnch'; known: "
        "vhframe:advbench, vhframe:beavertails, vhframe:hexphi; did you mean 'vhframe:advbench'?",
        f"{path}:12: judges[0].params.extra_phrase: unknown parameter for vhframe:refusal; "
        "did you mean 'extra_phrases'?",
        f"{path}:12: judges[0].params.foo: unknown parameter for vhframe:refusal; "
        "accepted: extra_phrases, lexicon",
    ]


def test_ragged_row_is_caught_by_validate_as_by_dry_run(tmp_path: Path) -> None:
    csv = _write(tmp_path, RAGGED, "bench.csv")
    path = _write(tmp_path, MINIMAL.replace('"builtin:sample"', '"bench.csv"'))
    expected = [f"{csv}:3: expected 2 comma-separated fields, found 3"]
    assert _validate(path) == expected
    dry = CliRunner().invoke(app, ["run", str(path), "--dry-run"])
    assert _errors(dry) == expected


def test_every_data_file_in_one_pass(tmp_path: Path) -> None:
    bench = _write(tmp_path, RAGGED, "bench.csv")
    adv = _write(tmp_path, "prompt,category\nx,y\n", "adv.csv")
    table = _write(tmp_path, "Name,x\n", "profiles.csv")
    text = MINIMAL.replace('"builtin:sample"', '"bench.csv"') + (
        '\n[[benchmarks]]\nuse = "vhframe:advbench"\nparams = { path = "adv.csv" }\n'
        '\n[profiles]\nuse = "vhframe:table"\nparams = { path = "profiles.csv" }\n'
    )
    errors = _validate(_write(tmp_path, text))
    assert errors[0].startswith(f"{table}:1: missing column(s) ['Achievement', ")
    assert errors[1:] == [
        f"{bench}:3: expected 2 comma-separated fields, found 3",
        f"{adv}:1: missing column(s) ['goal']; found header ['prompt', 'category']",
    ]


def test_run_reports_the_same_errors_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    bad_config = _write(
        tmp_path,
        MINIMAL.replace('"runs/x"', f'"{out}"').replace("[[judges]]", "[[judge]]")
        + "\n[generation]\ntemprature = 0.2\n",
    )
    _write(tmp_path, RAGGED, "bench.csv")
    bad_data = _write(
        tmp_path,
        MINIMAL.replace('"runs/x"', f'"{out}"').replace('"builtin:sample"', '"bench.csv"'),
        "d.toml",
    )
    for path in (bad_config, bad_data):
        expected = _validate(path)
        assert _errors(CliRunner().invoke(app, ["run", str(path), "-q"])) == expected
        assert not out.exists()  # nothing was started
    assert len(_validate(bad_config)) == 2


# --------------------------------------------------------------------- the checks themselves


class _Plugin:
    """A generator, a trainer that can train benign baselines, and a judge that takes any
    parameter (the fakes of vhframe.testing): enough for the checks, without the model
    plugins."""

    @hookimpl
    def register_trainers(self, register: Any) -> None:
        register("trainer", AdapterTrainer)

    @hookimpl
    def register_generators(self, register: Any) -> None:
        register("gen", InstantGenerator)

    @hookimpl
    def register_judges(self, register: Any) -> None:
        def judge(**params: Any) -> FlagJudge:
            return FlagJudge()

        register("any", judge)


def _manager() -> PluginManager:
    return PluginManager().load(entry_points=False, extra=[("t", _Plugin())])


def _own(text: str) -> str:
    """A config whose components all come from the built-ins and :class:`_Plugin`."""
    return text + '\n[generation]\nuse = "t:gen"\n'


def test_values_and_benign_data_are_read_when_a_run_would_train(tmp_path: Path) -> None:
    from vhframe.records import VALUES

    header = "\t".join(["", "Conclusion", "Stance", "Premise", *VALUES])
    values = _write(tmp_path, f"{header}\nA01\tc\tagainst\n", "values.tsv")
    grammar = _write(tmp_path, "input,target\nfix me,fixed,extra\n", "grammar.csv")
    text = MINIMAL + (
        '\n[values]\nuse = "vhframe:value-table"\nparams = { path = "values.tsv" }\n'
        '\n[[alignment.benign]]\nname = "g"\n'
        'data = { use = "vhframe:grammar", params = { path = "grammar.csv" } }\n'
    )
    untrained = load_config(_write(tmp_path, _own(text)))
    with pytest.raises(ConfigError, match="needs a trainer"):
        check(Pipeline(untrained, _manager()))
    trained = load_config(
        _write(tmp_path, _own(text + '\n[alignment]\ntrainer = { use = "t:trainer" }\n'))
    )
    with pytest.raises(ConfigErrors) as info:
        check(Pipeline(trained, _manager()))
    assert [type(e) for e in info.value.errors] == [DataError, DataError]
    assert str(info.value.errors[0]) == f"{values}:2: expected 14 tab-separated fields, found 3"
    assert str(info.value.errors[1]) == f"{grammar}:2: expected 2 comma-separated fields, found 3"
    # without a trainer the values are never read, so a bad table is not the run's problem
    no_trainer = (
        MINIMAL + '\n[values]\nuse = "vhframe:value-table"\nparams = { path = "values.tsv" }\n'
    )
    check(Pipeline(load_config(_write(tmp_path, _own(no_trainer))), _manager()))


def test_parameters_of_a_factory_that_takes_any_are_left_to_it(tmp_path: Path) -> None:
    text = MINIMAL.replace('use = "vhframe:refusal"', 'use = "t:any"\nparams = { whatever = 1 }')
    loaded = load_config(_write(tmp_path, _own(text)))
    assert component_errors(loaded, _manager()) == []
    text = MINIMAL.replace('use = "vhframe:refusal"', 'use = "vhframe:refusl"')
    loaded = load_config(_write(tmp_path, _own(text)))
    [error] = component_errors(loaded, _manager())
    assert str(error).endswith("did you mean 'vhframe:refusal'?")


def test_combine_keeps_a_single_error_as_it_is() -> None:
    one = UserError("a")
    assert combine([one]) is one
    both = combine([one, DataError("b", file="f.csv", line=2)], file="c.toml")
    assert isinstance(both, ConfigErrors) and str(both) == "a\nf.csv:2: b"
    assert (both.file, both.key, both.line) == ("c.toml", None, None)
    with pytest.raises(ValueError):
        ConfigErrors([])


def test_locate_finds_an_array_of_tables_by_its_name() -> None:
    text = '[run]\nseed = 1\n[[judge]]\nuse = "a:b"\n[[judge]]\nuse = "c:d"\n'
    assert locate(text, "judge") == 3
    assert locate(text, "judge[1].use") == 6
    assert locate('judge = [{ use = "a:b" }]\n', "judge") == 1


def test_quickstart_validates() -> None:
    result = CliRunner().invoke(app, ["validate", str(ROOT / "examples" / "quickstart.toml")])
    assert result.exit_code == 0, result.output


@pytest.mark.data
def test_paper_config_validates_with_its_data(tmp_path: Path) -> None:
    # its relative data paths, rewritten to the data found here, every file read
    data = shared("profiles/ess.csv").parents[1]
    text = (ROOT / "examples" / "paper.toml").read_text(encoding="utf-8")
    path = _write(tmp_path, text.replace("../../shared/data", str(data)), "paper.toml")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
