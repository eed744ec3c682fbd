"""Other languages: does each language's analyzer feel a post as English VADER feels it in English?

The corpus (``benchmarks/data/parallel-posts.jsonl``) is campaign posts written for the project
in English, each with a French and a Brazilian Portuguese translation made as a native speaker
would post it. A translation says the same thing with the same force, so an analyzer made for
its language should give it about the compound English VADER gives the original. The figures:

- agreement with English VADER (Pearson, Spearman, mean absolute difference, same sign class)
  for the language's own analyzer, and for English VADER run on the translation, the mistake
  Sugarglass refuses (it finds a few loanwords and calls the rest neutral);
- whether a straight-line calibration onto English VADER's scale narrows the difference, judged
  by leave-one-out so that no post is scored by a line fitted on itself;
- how often the language guesser names the right language, over all 97 of py3langid's
  languages and among six, overall, by language, and on short posts;
- scoring cost per post, each analyzer against English VADER.

Run:

    .venv/bin/python benchmarks/languages.py [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "benchmarks" / "data" / "parallel-posts.jsonl"

from sugarglass.affect.cleaning import LanguageGuesser, clean_text  # noqa: E402
from sugarglass.affect.languages import Analyzers  # noqa: E402

TRANSLATED = {"fr": "vader-fr", "pt": "leia"}
"""Each translation's language and the analyzer a work names for it."""
TEXTS = ("en", *TRANSLATED)
EXPECTED = ["en", "fr", "pt", "es", "de", "it"]
"""The narrowed guesser's choices: the corpus's languages and the three nearest confusions."""
SHORT_WORDS = 8
NEUTRAL_BAND = 0.05
"""VADER's own thresholds: a compound within this of zero is neutral."""


def load_rows(path: Path = DATA) -> list[dict]:
    """The parallel posts, one dict per line, each with ``en``, ``fr``, ``pt`` and ``feeling``."""
    with path.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    missing = [row.get("id", "?") for row in rows if any(not row.get(lang) for lang in TEXTS)]
    if missing:
        raise ValueError(f"posts without all of {', '.join(TEXTS)}: {', '.join(missing)}")
    return rows


def _sign(compound: float) -> int:
    return 0 if abs(compound) < NEUTRAL_BAND else (1 if compound > 0 else -1)


def agreement(english: list[float], other: list[float]) -> dict:
    """How closely ``other`` follows English VADER's compounds on the same posts."""
    a, b = np.asarray(english), np.asarray(other)
    return {
        "pearson": float(stats.pearsonr(a, b).statistic),
        "spearman": float(stats.spearmanr(a, b).statistic),
        "mean_abs_diff": float(np.mean(np.abs(a - b))),
        "same_class": float(np.mean([_sign(x) == _sign(y) for x, y in zip(english, other)])),
        "zero_share": float(np.mean(b == 0.0)),
    }


def calibration(english: list[float], native: list[float]) -> dict:
    """A line from the language's compound to English VADER's, clipped to [-1, 1]: fitted on all
    posts for its slope and intercept, and scored leave-one-out, each post predicted by the line
    fitted on the others, for a difference the fit cannot flatter."""
    x, y = np.asarray(native), np.asarray(english)
    slope, intercept = np.polyfit(x, y, 1)
    held_out = np.empty_like(y)
    for i in range(len(y)):
        others = np.arange(len(y)) != i
        s, c = np.polyfit(x[others], y[others], 1)
        held_out[i] = np.clip(s * x[i] + c, -1.0, 1.0)
    raw = float(np.mean(np.abs(y - x)))
    calibrated = float(np.mean(np.abs(y - held_out)))
    return {"slope": float(slope), "intercept": float(intercept), "mean_abs_diff_raw": raw,
            "mean_abs_diff_calibrated_loo": calibrated, "improves": calibrated < raw}


def scores(rows: list[dict], analyzers: Analyzers) -> dict[str, list[float]]:
    """Compounds by series: ``en`` (English VADER on the English), each language on its own
    translation, and ``en@fr``, ``en@pt`` (English VADER on the translation)."""
    cleaned = {lang: [clean_text(row[lang]) for row in rows] for lang in TEXTS}
    out = {"en": [analyzers.score(text, "en").compound for text in cleaned["en"]]}
    for lang in TRANSLATED:
        out[lang] = [analyzers.score(text, lang).compound for text in cleaned[lang]]
        out[f"en@{lang}"] = [analyzers.score(text, "en").compound for text in cleaned[lang]]
    return out


def correlations(rows: list[dict], analyzers: Analyzers | None = None) -> dict:
    """For each translated language: its analyzer against English VADER on the English, English
    VADER on the translation against the same, and the calibration."""
    series = scores(rows, analyzers or Analyzers(TRANSLATED))
    return {lang: {"analyzer": analyzer, "posts": len(rows),
                   "native": agreement(series["en"], series[lang]),
                   "english_vader_on_translation": agreement(series["en"], series[f"en@{lang}"]),
                   "calibration": calibration(series["en"], series[lang])}
            for lang, analyzer in TRANSLATED.items()}


def disagreements(rows: list[dict], analyzers: Analyzers | None = None, count: int = 5) -> dict[str, list[dict]]:
    """The posts where each language's analyzer is furthest from English VADER on the English."""
    series = scores(rows, analyzers or Analyzers(TRANSLATED))
    out = {}
    for lang in TRANSLATED:
        worst = sorted(range(len(rows)), key=lambda i: -abs(series["en"][i] - series[lang][i]))[:count]
        out[lang] = [{"id": rows[i]["id"], "en": rows[i]["en"], lang: rows[i][lang],
                      "vader": series["en"][i], "native": series[lang][i]} for i in worst]
    return out


def feelings(rows: list[dict], analyzers: Analyzers | None = None) -> dict[str, dict[str, float | None]]:
    """How often each analyzer's sign matches the feeling the post was written with: positive
    above the neutral band, negative below it, neutral within it (mixed posts have no single
    right sign and are left out). English VADER is wrong too, and this says where."""
    series = scores(rows, analyzers or Analyzers(TRANSLATED))
    want = {"positive": 1, "negative": -1, "neutral": 0}
    return {name: {feeling: _share([_sign(c) == sign for c, row in zip(compounds, rows) if row["feeling"] == feeling])
                   for feeling, sign in want.items()}
            for name, compounds in series.items() if "@" not in name}


def _share(hits: list[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def identification(rows: list[dict]) -> dict:
    """Language guessed for every text (English and both translations, cleaned as ingest cleans
    them): by the guesser over all of py3langid's languages and by one narrowed to ``EXPECTED``.
    A guess of None (too few words to tell) counts as wrong; ``undetermined`` counts them."""
    texts = [(lang, clean_text(row[lang])) for row in rows for lang in TEXTS]
    out = {}
    for name, guesser in (("all", LanguageGuesser()), ("among", LanguageGuesser(among=EXPECTED))):
        guesses = [guesser(text) for _, text in texts]
        right = [guess == lang for (lang, _), guess in zip(texts, guesses)]
        short = [ok for (_, text), ok in zip(texts, right) if len(text.split()) < SHORT_WORDS]
        out[name] = {
            "among": guesser.among,
            "texts": len(texts),
            "accuracy": _share(right),
            "by_language": {lang: _share([ok for (truth, _), ok in zip(texts, right) if truth == lang]) for lang in TEXTS},
            "short_texts": len(short),
            "short_accuracy": _share(short),
            "undetermined": sum(guess is None for guess in guesses),
            "mistakes": [{"language": truth, "guess": guess, "count": n} for (truth, guess), n in
                         Counter((lang, guess) for (lang, _), guess in zip(texts, guesses) if guess != lang).most_common(8)],
        }
    return out


def speed(rows: list[dict], analyzers: Analyzers | None = None, rounds: int = 3, repeat: int = 10) -> dict:
    """Microseconds per post for each language's analyzer on its own texts, the least disturbed
    of ``rounds`` passes over the corpus repeated ``repeat`` times, and the ratio to English VADER.
    The analyzers take turns within each round, so that a busy moment on the machine does not
    fall on one analyzer's passes only."""
    analyzers = analyzers or Analyzers(TRANSLATED)
    texts = {lang: [clean_text(row[lang]) for row in rows] * repeat for lang in TEXTS}
    best = {lang: float("inf") for lang in TEXTS}
    for _ in range(rounds):
        for lang in TEXTS:
            best[lang] = min(best[lang], _timed(analyzers.for_language(lang), texts[lang]))
    per_post = {lang: best[lang] / len(texts[lang]) * 1e6 for lang in TEXTS}
    return {lang: {"analyzer": analyzers.for_language(lang).name, "us_per_post": per_post[lang],
                   "vs_english": per_post[lang] / per_post["en"]} for lang in TEXTS}


def _timed(analyzer, texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        analyzer.score(text)
    return time.perf_counter() - start


def measure(rows: list[dict]) -> dict:
    """Every figure this benchmark prints, as ``--json`` writes them."""
    analyzers = Analyzers(TRANSLATED)
    return {"posts": len(rows), "labels": dict(Counter(row["feeling"] for row in rows)),
            "analyzers": analyzers.record(),
            "correlations": correlations(rows, analyzers), "feelings": feelings(rows, analyzers),
            "identification": identification(rows),
            "speed": speed(rows, analyzers), "disagreements": disagreements(rows, analyzers)}


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.1%}"


def report(console: Console, figures: dict) -> None:
    labels = ", ".join(f"{n} {feeling}" for feeling, n in sorted(figures["labels"].items()))
    console.print(f"{figures['posts']} parallel posts ({labels}), English compound by English VADER as the reference")
    table = Table(title="agreement with English VADER on the English", title_justify="left")
    for column in ("language", "scored by", "Pearson r", "Spearman ρ", "mean |diff|", "same sign", "zero"):
        table.add_column(column, justify="left" if column in ("language", "scored by") else "right")
    for lang, figure in figures["correlations"].items():
        for label, key in ((figure["analyzer"], "native"), ("vader (wrong)", "english_vader_on_translation")):
            a = figure[key]
            table.add_row(lang, label, f"{a['pearson']:.3f}", f"{a['spearman']:.3f}", f"{a['mean_abs_diff']:.3f}",
                          _percent(a["same_class"]), _percent(a["zero_share"]))
    console.print(table)

    table = Table(title="sign right against the feeling each post was written with", title_justify="left")
    for column in ("texts", "scored by", "positive", "negative", "neutral"):
        table.add_column(column, justify="left" if column in ("texts", "scored by") else "right")
    for name, figure in figures["feelings"].items():
        table.add_row(name, TRANSLATED.get(name, "vader"), *(_percent(figure[f]) for f in ("positive", "negative", "neutral")))
    console.print(table)

    table = Table(title="linear calibration onto English VADER (clipped to [-1, 1]; leave-one-out)", title_justify="left")
    for column in ("language", "slope", "intercept", "mean |diff| raw", "calibrated (LOO)", "improves"):
        table.add_column(column, justify="left" if column == "language" else "right")
    for lang, figure in figures["correlations"].items():
        c = figure["calibration"]
        table.add_row(lang, f"{c['slope']:.3f}", f"{c['intercept']:+.3f}", f"{c['mean_abs_diff_raw']:.3f}",
                      f"{c['mean_abs_diff_calibrated_loo']:.3f}", "yes" if c["improves"] else "no")
    console.print(table)

    table = Table(title=f"language identification (cleaned texts; short = under {SHORT_WORDS} words)", title_justify="left")
    for column in ("guesser", "all", *TEXTS, "short", "none"):
        table.add_column(column, justify="left" if column == "guesser" else "right")
    for figure in figures["identification"].values():
        label = "all 97 languages" if figure["among"] is None else "among " + " ".join(figure["among"])
        table.add_row(label, _percent(figure["accuracy"]), *(_percent(figure["by_language"][lang]) for lang in TEXTS),
                      f"{_percent(figure['short_accuracy'])} of {figure['short_texts']}", str(figure["undetermined"]))
    console.print(table)
    for name, figure in figures["identification"].items():
        mistakes = ", ".join(f"{m['language']}→{m['guess']} ×{m['count']}" for m in figure["mistakes"]) or "none"
        console.print(f"  {name}: commonest mistakes {mistakes}")

    table = Table(title="scoring cost (best of 3)", title_justify="left")
    for column in ("texts", "analyzer", "µs/post", "× English VADER"):
        table.add_column(column, justify="left" if column in ("texts", "analyzer") else "right")
    for lang, figure in figures["speed"].items():
        table.add_row(lang, figure["analyzer"], f"{figure['us_per_post']:.1f}", f"{figure['vs_english']:.2f}")
    console.print(table)

    for lang, posts in figures["disagreements"].items():
        table = Table(title=f"largest disagreements, {lang}", title_justify="left")
        for column in ("id", "English", "VADER", "translation", lang):
            table.add_column(column, justify="right" if column in ("VADER", lang) else "left")
        for post in posts:
            table.add_row(post["id"], post["en"], f"{post['vader']:+.3f}", post[lang], f"{post['native']:+.3f}")
        console.print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures to PATH as JSON")
    parser.add_argument("--data", type=Path, default=DATA, help="the parallel posts (JSON lines)")
    args = parser.parse_args(argv)
    figures = measure(load_rows(args.data))
    report(Console(), figures)
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
