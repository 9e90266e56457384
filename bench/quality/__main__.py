"""The builtin engine's quality over a corpus of real documents: `make bench-quality`.

For every document of bench/quality/corpus/ (sources and licences in its manifest.json) it
runs a full_pack, counts the objective defects of each artifact type (bench/quality/defects.py),
and sets the builtin summary beside sumy's LexRank and TextRank summaries of the same text,
whose defects are counted the same way. It also measures the engine's CPU time per 1,000 words.
Writes docs/bench/quality.md (the numbers) and docs/bench/quality-side-by-side.md (the texts
an editor compares), and prints the totals.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from segtok.segmenter import split_multi
from segtok.tokenizer import word_tokenizer
from sumy.nlp.stemmers import Stemmer
from sumy.parsers.plaintext import PlaintextParser
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer
from sumy.utils import get_stop_words

from bench.quality.defects import (
    artifact_defects,
    sentence_defects,
    source_headings,
    stats_defects,
)
from pressroom.generation.base import GenerationRequest
from pressroom.generation.builtin import BuiltinEngine
from pressroom.generation.document import parse
from pressroom.generation.kinds import SourceFormat

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
DOCS = HERE.parents[1] / "docs" / "bench"
SENTENCES = 5


class SegtokTokenizer:
    """sumy's tokenizer interface on segtok: sumy's own needs NLTK's punkt data, which it
    would download at run time."""

    language = "english"

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(s.strip() for s in split_multi(paragraph) if s.strip())

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(w for w in word_tokenizer(sentence) if any(c.isalnum() for c in w))


def sumy_summaries(plain_text: str) -> dict[str, str]:
    parser = PlaintextParser.from_string(plain_text, SegtokTokenizer())
    out = {}
    for name, cls in (("lexrank", LexRankSummarizer), ("textrank", TextRankSummarizer)):
        summarizer = cls(Stemmer("english"))
        summarizer.stop_words = get_stop_words("english")
        out[name] = " ".join(str(s) for s in summarizer(parser.document, SENTENCES))
    return out


def _artifacts(result: Any) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for a in result.artifacts:
        grouped.setdefault(a.type.value, []).append(a.content)
    return grouped


def evaluate() -> dict[str, Any]:
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    engine = BuiltinEngine()
    per_type: Counter[str] = Counter()
    sumy_defects: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    timings: list[float] = []
    rows = []
    for entry in manifest:
        source = (CORPUS / entry["file"]).read_text(encoding="utf-8")
        fmt = entry["format"]
        data = {"text": source, "format": fmt, "url": "https://example.org/article"}
        request = GenerationRequest.from_job("full_pack", data)
        # CPU time, best of three: on a shared machine wall time measures the neighbours.
        elapsed = float("inf")
        for _ in range(3):
            started = time.process_time()
            result = engine.generate(request)
            elapsed = min(elapsed, time.process_time() - started)
        doc = parse(source, SourceFormat(fmt))
        timings.append(elapsed / max(1, len(doc.words)) * 1000)
        artifacts = _artifacts(result)
        defects = artifact_defects(artifacts, source, fmt, doc.title)
        defects["stats"] = stats_defects(json.loads(artifacts["stats"][0]), doc.words)
        for kind, found in defects.items():
            per_type[kind] += len(found)
            examples.setdefault(kind, []).extend(f"{entry['file']}: {d}" for d in found)
        # sumy reads what a generic pipeline would: the document's text, headings included.
        others = sumy_summaries(doc.plain_text)
        headings = source_headings(source, fmt)
        for name, text in others.items():
            sumy_defects[name] += len(sentence_defects(text, headings))
        rows.append(
            {
                "file": entry["file"],
                "kind": entry["kind"],
                "words": len(doc.words),
                "seconds": round(elapsed, 3),
                "builtin": artifacts["summary"][0],
                "titles": json.loads(artifacts["title_suggestions"][0]),
                "key_points": artifacts["key_points"][0],
                "defects": sum(len(f) for f in defects.values()),
                **others,
            }
        )
    return {
        "per_type": dict(per_type),
        "examples": examples,
        "sumy_summary_defects": dict(sumy_defects),
        "ms_per_1000_words": {
            "median": round(statistics.median(timings) * 1000, 1),
            "max": round(max(timings) * 1000, 1),
        },
        "rows": rows,
    }


def write_reports(report: dict[str, Any]) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Builtin engine quality (generated by `make bench-quality`)",
        "",
        "Objective defects per artifact type over bench/quality/corpus/ "
        f"({len(report['rows'])} documents; sources and licences in its manifest.json). "
        "The classes are those of bench/quality/defects.py.",
        "",
        "| artifact | defects |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in sorted(report["per_type"].items())),
        "",
        "Summary sentence defects of the same classes for sumy (5 sentences, same text):",
        "",
        "| summariser | defects |",
        "| --- | --- |",
        "| builtin | " + str(report["per_type"].get("summary", 0)) + " |",
        *(f"| sumy {k} | {v} |" for k, v in report["sumy_summary_defects"].items()),
        "",
        f"CPU time per 1,000 words (full_pack, best of 3 runs per document): median "
        f"{report['ms_per_1000_words']['median']} ms, max {report['ms_per_1000_words']['max']} ms.",
        "",
        "| document | kind | words | CPU seconds | defects |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {r['file']} | {r['kind']} | {r['words']} | {r['seconds']} | {r['defects']} |"
            for r in report["rows"]
        ),
        "",
    ]
    if any(report["examples"].values()):
        lines += ["## Defects found", ""]
        lines += [f"- {e}" for found in report["examples"].values() for e in found]
        lines.append("")
    (DOCS / "quality.md").write_text("\n".join(lines))
    side = ["# Summaries side by side (generated by `make bench-quality`)", ""]
    for r in report["rows"]:
        side += [f"## {r['file']} ({r['kind']})", ""]
        for name in ("builtin", "lexrank", "textrank"):
            side += [f"**{name}**: {r[name]}", ""]
        side += ["**builtin titles**: " + " / ".join(r["titles"]), ""]
        side += ["**builtin key points**:", "", r["key_points"], ""]
    (DOCS / "quality-side-by-side.md").write_text("\n".join(side))


def main() -> int:
    report = evaluate()
    write_reports(report)
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
