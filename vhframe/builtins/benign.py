"""Task datasets for the benign fine-tuning baselines (study item 5): Alpaca, Dolly, Grammar and
SAMSum files, each turned into :class:`~vhframe.records.TaskExample` records whose prompt is
already in the format's standard template, so that the trainer takes the loss on the target only.

Templates (``TEMPLATE_VERSION`` is in every fingerprint, so a change here retrains):

* Alpaca and Dolly: the Stanford Alpaca prompt, in its two forms (with and without an input);
  Dolly's ``context`` is the input. A record whose input is empty or blank gets the form
  without input.
* Grammar: the form of Meta's llama-recipes grammar example,
  ``Correct this to standard English: {input}\\n---\\nCorrected: `` followed by the target.
* SAMSum: the form of llama-recipes' SAMSum example,
  ``Summarize this dialog:\\n{dialogue}\\n---\\nSummary:\\n`` followed by the summary.

Texts are kept as they are in the file (no stripping, line endings untouched); only the
checks for empty fields look at stripped text.

"Dolly without safety data": the study trains on ``databricks-dolly-15k-no-safety.jsonl``, the
file made by the ``dolly_remove_safety.py`` script of Qi et al. (2023), "Fine-tuning aligned
language models compromises safety" (repository LLM-Tuning-Safety/LLMs-Finetuning-Safety). That
script drops every record whose *response* contains, compared case-insensitively, any phrase of
a fixed list of about 200 (refusal and AI-disclaimer phrases such as "as an AI language model",
and safety- or ethics-related words such as "illegal", "harmful", "ethical", "bias"); the
instruction and context are not looked at. To reproduce the study, point ``path`` at that
already filtered file. To filter another Dolly (or Alpaca) file by the same rule, give the
phrases with ``exclude_phrases`` or ``exclude_phrases_file`` (one phrase per line): vhframe
applies the same case-insensitive substring test to the response (Alpaca: ``output``). vhframe
does not ship that phrase list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from vhframe import files
from vhframe.builtins.samples import SAMPLE_REF, sample_dir
from vhframe.context import RunContext
from vhframe.errors import DataError, ParamError
from vhframe.records import TaskExample

#: Bumped whenever a template below changes wording or whitespace.
TEMPLATE_VERSION = 1

ALPACA_PROMPT_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
ALPACA_PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)
GRAMMAR_PROMPT = "Correct this to standard English: {input}\n---\nCorrected: "
SAMSUM_PROMPT = "Summarize this dialog:\n{dialogue}\n---\nSummary:\n"

#: What ``empty`` may be: fail on an empty field, drop the record, or keep it as it is.
EMPTY_MODES = ("error", "skip", "keep")


def alpaca_prompt(instruction: str, input_text: str = "") -> str:
    """The Alpaca prompt for an instruction and an optional input (blank input: no input)."""
    if input_text.strip():
        return ALPACA_PROMPT_INPUT.format(instruction=instruction, input=input_text)
    return ALPACA_PROMPT_NO_INPUT.format(instruction=instruction)


def grammar_prompt(text: str) -> str:
    """The llama-recipes style grammar-correction prompt for ``text``."""
    return GRAMMAR_PROMPT.format(input=text)


def samsum_prompt(dialogue: str) -> str:
    """The llama-recipes style summarisation prompt for ``dialogue``."""
    return SAMSUM_PROMPT.format(dialogue=dialogue)


# --------------------------------------------------------------------------- reading


class _Record:
    """One record of a file: where it is (0-based index, 1-based line) and its fields."""

    __slots__ = ("fields", "index", "line")

    def __init__(self, index: int, line: int, fields: dict[str, Any]) -> None:
        self.index = index
        self.line = line
        self.fields = fields


def _as_object(path: Path, obj: Any, index: int, line: int) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise DataError(
            f"record index {index}: expected a JSON object, found {_json_type(obj)}",
            file=str(path),
            line=line,
        )
    return obj


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def read_json_records(path: Path) -> list[_Record]:
    """Records of a JSON array of objects or of a JSON Lines file (told apart by the first
    character), each with its 0-based index and the line it starts on."""
    return [
        _Record(index, line, _as_object(path, obj, index, line))
        for index, (line, obj) in enumerate(files.read_json_records(path))
    ]


def read_csv_records(path: Path, required: Sequence[str]) -> list[_Record]:
    """Records of a headered CSV (BOM tolerated, quoted fields may span lines). Blank rows
    between records, rows with the wrong number of fields and broken quoting are errors that
    name the line; blank lines at the very end of the file are tolerated."""
    table = files.read_table(path, required=required, blank_lines="trailing")
    return [_Record(index, line, fields) for index, (line, fields) in enumerate(table.records())]


# --------------------------------------------------------------------------- loaders


def _check_limit(limit: Any) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ParamError("limit", f"expected a positive integer, found {limit!r}")
    return limit


def _check_names(param: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    if (
        isinstance(value, str)
        or not isinstance(value, (list, tuple))
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise ParamError(param, f"expected a list of non-empty strings, found {value!r}")
    return list(value)


class TaskFile:
    """Base of the task datasets: one file in a format, its template, and common parameters.

    ``path`` is the file (or ``builtin:sample`` for vhframe's own small sample in the format),
    ``limit`` keeps the first N examples in file order after filtering, and ``empty`` says what
    an empty (or blank) prompt field or target does: ``"error"`` (the default) fails naming the
    file and line, ``"skip"`` drops the record, ``"keep"`` keeps it as it is.
    """

    source: ClassVar[str] = ""
    sample_file: ClassVar[str] = ""

    def __init__(self, path: str, limit: int | None = None, empty: str = "error") -> None:
        if not isinstance(path, str) or not path:
            raise ParamError("path", f"expected a file path or {SAMPLE_REF!r}, found {path!r}")
        if path != SAMPLE_REF:
            p = Path(path)
            if not p.exists():
                raise ParamError("path", f"file not found: {path}")
            if not p.is_file():
                raise ParamError("path", f"not a file: {path}")
        if empty not in EMPTY_MODES:
            raise ParamError("empty", f"expected one of {list(EMPTY_MODES)}, found {empty!r}")
        self.path = path
        self.limit = _check_limit(limit)
        self.empty = empty

    def fingerprint(self) -> dict[str, Any]:
        return {
            "format": self.source,
            "path": self.path,
            "limit": self.limit,
            "empty": self.empty,
            "template": f"{self.source}-v{TEMPLATE_VERSION}",
        }

    def file(self, ctx: RunContext) -> Path:
        """The file read: the given path, or the sample written into the cache."""
        if self.path == SAMPLE_REF:
            return sample_dir(ctx.cache_dir) / "benign" / self.sample_file
        return Path(self.path)

    def load(self, ctx: RunContext) -> list[TaskExample]:
        path = self.file(ctx)
        examples: list[TaskExample] = []
        skipped = 0
        for rec in self.records(path):
            if not self.keep(path, rec):
                continue
            empties = [k for k in self.text_fields(rec) if not rec.fields[k].strip()]
            if empties and self.empty == "error":
                raise DataError(
                    f"record index {rec.index}: empty {empties[0]!r}; set the parameter "
                    'empty = "skip" to drop such records or "keep" to train on them',
                    file=str(path),
                    line=rec.line,
                )
            if empties and self.empty == "skip":
                skipped += 1
                continue
            examples.append(self.example(rec))
        self.finish(ctx, path)
        if skipped:
            ctx.log.warning("%s: skipped %d record(s) with an empty field", path, skipped)
        if self.limit is not None:
            examples = examples[: self.limit]
        return examples

    # -- per format
    def records(self, path: Path) -> Iterator[_Record]:
        """The file's records, their required keys checked."""
        raise NotImplementedError

    def text_fields(self, rec: _Record) -> tuple[str, ...]:
        """The keys that must not be empty (the prompt's main field and the target)."""
        raise NotImplementedError

    def keep(self, path: Path, rec: _Record) -> bool:
        """Whether a record passes the format's filters."""
        return True

    def finish(self, ctx: RunContext, path: Path) -> None:
        """Called after a full pass: report what the filters did."""

    def example(self, rec: _Record) -> TaskExample:
        raise NotImplementedError


def _fields(
    path: Path,
    rec: _Record,
    required: Sequence[str],
    optional: Sequence[str] = (),
    *,
    allow_number: Sequence[str] = (),
) -> None:
    """Check that required keys are present and that present keys hold strings; optional
    keys that are absent become ``""``."""
    found = sorted(rec.fields)
    for key in required:
        if key not in rec.fields:
            raise DataError(
                f"record index {rec.index}: missing key {key!r}; found keys {found}",
                file=str(path),
                line=rec.line,
            )
    for key in (*required, *optional):
        value = rec.fields.setdefault(key, "")
        if key in allow_number and isinstance(value, int) and not isinstance(value, bool):
            rec.fields[key] = str(value)
        elif not isinstance(value, str):
            raise DataError(
                f"record index {rec.index}: {key!r} must be a string, found {_json_type(value)}",
                file=str(path),
                line=rec.line,
            )


class _InstructionFile(TaskFile):
    """Alpaca-templated instruction data, with the phrase filter of Qi et al. (2023)."""

    instruction_key: ClassVar[str] = "instruction"
    input_key: ClassVar[str] = "input"
    target_key: ClassVar[str] = "output"
    #: optional keys besides the input (absent means "")
    extra_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        path: str,
        limit: int | None = None,
        empty: str = "error",
        exclude_phrases: list[str] | None = None,
        exclude_phrases_file: str | None = None,
    ) -> None:
        super().__init__(path, limit, empty)
        phrases = _check_names("exclude_phrases", exclude_phrases) or []
        if exclude_phrases_file is not None:
            phrases += _read_phrases(exclude_phrases_file)
        self.exclude_phrases_file = exclude_phrases_file
        # the rule compares lower-cased text, so duplicates by case are one phrase
        self.exclude_phrases = list(dict.fromkeys(p.lower() for p in phrases))
        self.excluded = 0

    def fingerprint(self) -> dict[str, Any]:
        fp = super().fingerprint()
        if self.exclude_phrases:
            fp["exclude_phrases"] = self.exclude_phrases
        return fp

    def records(self, path: Path) -> Iterator[_Record]:
        self.excluded = 0
        for rec in read_json_records(path):
            _fields(
                path,
                rec,
                (self.instruction_key, self.target_key),
                (self.input_key, *self.extra_keys),
            )
            yield rec

    def text_fields(self, rec: _Record) -> tuple[str, ...]:
        return (self.instruction_key, self.target_key)

    def keep(self, path: Path, rec: _Record) -> bool:
        if self.exclude_phrases:
            target = rec.fields[self.target_key].lower()
            if any(p in target for p in self.exclude_phrases):
                self.excluded += 1
                return False
        return True

    def finish(self, ctx: RunContext, path: Path) -> None:
        if self.exclude_phrases:
            ctx.log.info(
                "%s: excluded %d record(s) whose %s contains an excluded phrase",
                path,
                self.excluded,
                self.target_key,
            )

    def example(self, rec: _Record) -> TaskExample:
        f = rec.fields
        return TaskExample(
            id=f"{rec.index:06d}",
            prompt=alpaca_prompt(f[self.instruction_key], f[self.input_key]),
            target=f[self.target_key],
            source=self.source,
        )


def _read_phrases(file: Any) -> list[str]:
    if not isinstance(file, str) or not file:
        raise ParamError("exclude_phrases_file", f"expected a file path, found {file!r}")
    p = Path(file)
    if not p.is_file():
        raise ParamError("exclude_phrases_file", f"file not found: {file}")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParamError("exclude_phrases_file", f"{file}: not UTF-8 text ({exc.reason})") from None
    # one phrase per line; blank lines are ignored, other whitespace is part of the phrase
    phrases = [line for line in text.splitlines() if line.strip()]
    if not phrases:
        raise ParamError("exclude_phrases_file", f"{file}: no phrases (one per line)")
    return phrases


class Alpaca(_InstructionFile):
    """``vhframe:alpaca``: Stanford Alpaca data, a JSON array (or JSON Lines) of objects with
    ``instruction``, ``input`` (optional) and ``output``, in the Alpaca prompt template.

    Parameters: ``path``, ``limit``, ``empty`` (see :class:`TaskFile`), and
    ``exclude_phrases`` / ``exclude_phrases_file``: drop records whose ``output`` contains any
    of the phrases, case-insensitively (the safety filter of Qi et al. 2023). Ids are the
    records' 0-based positions in the file."""

    source = "alpaca"
    sample_file = "alpaca-sample.json"


class Dolly(_InstructionFile):
    """``vhframe:dolly``: databricks-dolly-15k, JSON Lines (or a JSON array) of objects with
    ``instruction``, ``context`` (optional), ``response`` and ``category``, in the Alpaca
    prompt template with ``context`` as the input.

    Parameters: those of :class:`Alpaca` (the phrase filter looks at ``response``), plus
    ``categories`` (keep only these) and ``exclude_categories`` (drop these); a category that
    no record has is an error, so a misspelt name cannot go unnoticed. For the study's "Dolly
    without safety data" see the module notes."""

    source = "dolly"
    sample_file = "dolly-sample.jsonl"
    input_key = "context"
    target_key = "response"
    extra_keys = ("category",)

    def __init__(
        self,
        path: str,
        limit: int | None = None,
        empty: str = "error",
        categories: list[str] | None = None,
        exclude_categories: list[str] | None = None,
        exclude_phrases: list[str] | None = None,
        exclude_phrases_file: str | None = None,
    ) -> None:
        super().__init__(path, limit, empty, exclude_phrases, exclude_phrases_file)
        self.categories = _check_names("categories", categories)
        self.exclude_categories = _check_names("exclude_categories", exclude_categories)
        both = sorted(set(self.categories or ()) & set(self.exclude_categories or ()))
        if both:
            raise ParamError("exclude_categories", f"{both} also listed in categories")
        self._seen: set[str] = set()

    def fingerprint(self) -> dict[str, Any]:
        fp = super().fingerprint()
        fp["categories"] = self.categories
        fp["exclude_categories"] = self.exclude_categories
        return fp

    def records(self, path: Path) -> Iterator[_Record]:
        self._seen = set()
        yield from super().records(path)

    def keep(self, path: Path, rec: _Record) -> bool:
        category = rec.fields["category"].strip()
        self._seen.add(category)
        if self.categories is not None and category not in self.categories:
            return False
        if self.exclude_categories is not None and category in self.exclude_categories:
            return False
        return super().keep(path, rec)

    def finish(self, ctx: RunContext, path: Path) -> None:
        super().finish(ctx, path)
        for param, wanted in (
            ("categories", self.categories),
            ("exclude_categories", self.exclude_categories),
        ):
            absent = sorted(set(wanted or ()) - self._seen)
            if absent:
                raise DataError(
                    f"{param}: {absent} not found; the file's categories are {sorted(self._seen)}",
                    file=str(path),
                )


class Grammar(TaskFile):
    """``vhframe:grammar``: grammar-correction pairs, a CSV with the header ``input,target``
    (a UTF-8 BOM is allowed, as in the study's ``gtrain_10k.csv``; quoted fields may span
    lines; other columns are ignored), in the llama-recipes grammar template. Ids are the
    records' 0-based positions. Parameters: ``path``, ``limit``, ``empty``."""

    source = "grammar"
    sample_file = "grammar-sample.csv"

    def records(self, path: Path) -> Iterator[_Record]:
        yield from read_csv_records(path, ("input", "target"))

    def text_fields(self, rec: _Record) -> tuple[str, ...]:
        return ("input", "target")

    def example(self, rec: _Record) -> TaskExample:
        return TaskExample(
            id=f"{rec.index:06d}",
            prompt=grammar_prompt(rec.fields["input"]),
            target=rec.fields["target"],
            source=self.source,
        )


class Samsum(TaskFile):
    """``vhframe:samsum``: SAMSum dialogues with summaries, as a JSON array (the corpus's own
    form), JSON Lines, or a CSV (``.csv`` suffix) with the columns ``id``, ``dialogue`` and
    ``summary``, in the llama-recipes SAMSum template. ``id`` may be absent (the record's
    0-based position is used) but must be unique. Parameters: ``path``, ``limit``, ``empty``.
    """

    source = "samsum"
    sample_file = "samsum-sample.json"

    def records(self, path: Path) -> Iterator[_Record]:
        if path.suffix.lower() == ".csv":
            recs = read_csv_records(path, ("dialogue", "summary"))
        else:
            recs = read_json_records(path)
        seen: dict[str, int] = {}
        for rec in recs:
            had_id = "id" in rec.fields
            _fields(path, rec, ("dialogue", "summary"), ("id",), allow_number=("id",))
            if not had_id or not rec.fields["id"].strip():
                rec.fields["id"] = f"{rec.index:06d}"
            rid = rec.fields["id"]
            if rid in seen:
                raise DataError(
                    f"record index {rec.index}: id {rid!r} is also on line "
                    f"{seen[rid]}; ids must be unique",
                    file=str(path),
                    line=rec.line,
                )
            seen[rid] = rec.line
            yield rec

    def text_fields(self, rec: _Record) -> tuple[str, ...]:
        return ("dialogue", "summary")

    def example(self, rec: _Record) -> TaskExample:
        return TaskExample(
            id=rec.fields["id"],
            prompt=samsum_prompt(rec.fields["dialogue"]),
            target=rec.fields["summary"],
            source=self.source,
        )


#: Registered name → (factory, description), for the built-in plugin.
TASK_DATASETS: dict[str, tuple[Callable[..., TaskFile], str]] = {
    "alpaca": (Alpaca, "Alpaca JSON (instruction/input/output) in the Alpaca prompt template"),
    "dolly": (
        Dolly,
        "databricks-dolly-15k JSONL in the Alpaca template (context as input); "
        "category and phrase filters",
    ),
    "grammar": (Grammar, "grammar-correction CSV (input,target) in the llama-recipes template"),
    "samsum": (Samsum, "SAMSum dialogues (JSON, JSONL or CSV) in the llama-recipes template"),
}
