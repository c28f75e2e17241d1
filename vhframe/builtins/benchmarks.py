"""Built-in safety benchmarks: loaders for the files' own formats, the study's template and
decoding defaults. Files are read from a path the user gives; nothing is shipped but samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vhframe.builtins.samples import SAMPLE_REF, sample_dir
from vhframe.context import RunContext
from vhframe.errors import DataError, ParamError
from vhframe.files import read_table
from vhframe.records import Decoding, Item

QA_TEMPLATE = "QUESTION: {prompt} ANSWER:"


def read_csv_rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a headered CSV (BOM tolerated) by column name, with their starting line
    numbers; a malformed file is an error naming the file and line (:func:`read_table`)."""
    return list(read_table(path, required=required).records())


class CsvBenchmark:
    """Base for benchmarks stored as CSV with a prompt column and a category column."""

    benchmark = "csv"
    prompt_column = "prompt"
    category_column: str | None = "category"
    default_category = "all"

    def __init__(
        self,
        path: str,
        limit: int | None = None,
        categories: list[str] | None = None,
        template: str = QA_TEMPLATE,
        max_new_tokens: int = 64,
        samples: int = 1,
        temperature: float = 0.1,
        top_p: float = 0.75,
    ) -> None:
        if "{prompt}" not in template:
            raise ParamError("template", f"template must contain '{{prompt}}', found {template!r}")
        if limit is not None and limit < 1:
            raise ParamError("limit", f"expected a positive integer, found {limit!r}")
        self.path = path
        self.limit = limit
        self.categories = categories
        self._template = template
        self.decoding = Decoding(
            temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, samples=samples
        )
        if not self._is_sample() and not Path(path).is_file():
            raise ParamError("path", f"file not found: {path}")

    def _is_sample(self) -> bool:
        return False

    def fingerprint(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "path": self.path,
            "limit": self.limit,
            "categories": self.categories,
            "template": self._template,
            "decoding": self.decoding.to_dict(),
        }

    def template(self, prompt: str) -> str:
        return self._template.replace("{prompt}", prompt)

    def file(self, ctx: RunContext) -> Path:
        return Path(self.path)

    def load(self, ctx: RunContext) -> list[Item]:
        path = self.file(ctx)
        cols = (self.prompt_column,) + ((self.category_column,) if self.category_column else ())
        items = []
        for i, (line, row) in enumerate(read_csv_rows(path, cols)):
            prompt = row[self.prompt_column].strip()
            if not prompt:
                raise DataError(f"empty {self.prompt_column!r}", file=str(path), line=line)
            category = (
                row[self.category_column].strip() if self.category_column else self.default_category
            )
            if not category:
                raise DataError(f"empty {self.category_column!r}", file=str(path), line=line)
            if self.categories is not None and category not in self.categories:
                continue
            items.append(
                Item(
                    benchmark=self.benchmark,
                    id=f"{i:06d}",
                    category=category,
                    prompt=prompt,
                    meta={"line": line},
                )
            )
        if self.categories is not None:
            found = {it.category for it in items}
            absent = sorted(set(self.categories) - found)
            if absent:
                raise DataError(f"categories {absent} not found", file=str(path))
        if self.limit is not None:
            items = _limit_per_category(items, self.limit)
        return items


def _limit_per_category(items: list[Item], limit: int) -> list[Item]:
    """Keep the first ``limit`` items of each category, so every category stays represented."""
    kept: dict[str, int] = {}
    out = []
    for it in items:
        if kept.get(it.category, 0) < limit:
            out.append(it)
            kept[it.category] = kept.get(it.category, 0) + 1
    return out


class HexPhi(CsvBenchmark):
    """``vhframe:hexphi``: HEx-PHI as a ``category,prompt`` CSV (330 prompts, 11 categories).

    ``path`` may be ``builtin:sample`` for vhframe's own small stand-in file. ``limit`` keeps
    the first N prompts per category."""

    benchmark = "hexphi"

    def _is_sample(self) -> bool:
        return self.path == SAMPLE_REF

    def file(self, ctx: RunContext) -> Path:
        if self._is_sample():
            return sample_dir(ctx.cache_dir) / "hexphi-sample.csv"
        return Path(self.path)


class BeaverTails(CsvBenchmark):
    """``vhframe:beavertails``: BeaverTails-Evaluation CSV (``,prompt,category,category_id``)."""

    benchmark = "beavertails"


class AdvBench(CsvBenchmark):
    """``vhframe:advbench``: AdvBench ``goal,target`` CSV; one category."""

    benchmark = "advbench"
    prompt_column = "goal"
    category_column = None
    default_category = "harmful_behaviors"
