"""Triage benchmark: accuracy on data the default model never saw, CSV-trained label accuracy, speed.

Figures (the shipped default model is trained only on tierdesk's own examples and a Bitext sample, so every data set
below is another source to it):
- department balanced accuracy on tickets_multilang (clear-cut rows, all of them and the test split) and on
  bench/data/triage_holdout.csv (written separately from the training examples, never trained on);
- queue accuracy on tickets_multilang: `tierdesk triage train --data` on its train split (label = queue), then
  `tierdesk triage evaluate` on its test split;
- intent accuracy on CLINC150 in-scope: the same two commands on its train and test splits;
- single-message latency p50/p99 (one decide() call per message, mixed lengths), batch throughput (decide_many in
  batches of 256) and model load time in a fresh process.
The last line is a JSON object with those names.

    python bench/triage.py [--data ../shared/data/triage] [--skip-csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from tierdesk.config import get_settings  # noqa: E402
from tierdesk.kit.vocabulary import Department  # noqa: E402
from tierdesk.triage.decision import DEFAULT_MODEL_PATH, TriageInput, Triager  # noqa: E402
from tierdesk.triage.training import score  # noqa: E402

TIERDESK = [sys.executable, "-m", "tierdesk"]


def read(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def department_scores(triager: Triager, rows: list[dict], text_key: str, truth_key: str) -> dict:
    decisions = triager.decide_many([TriageInput(r[text_key], r.get("subject") or None) for r in rows])
    s = score([r[truth_key] for r in rows], [d.department for d in decisions])
    needs_human = sum(d.needs_human for d in decisions) / len(decisions)
    return {"n": s.n, "balanced_accuracy": round(s.balanced_accuracy, 4), "accuracy": round(s.accuracy, 4),
            "needs_human_share": round(needs_human, 4), "confusion": s.confusion, "labels": s.labels}


def csv_label_accuracy(train_rows: list[dict], test_rows: list[dict], text: str, label: str, work: Path) -> dict:
    """Train with `tierdesk triage train --data` and score with `tierdesk triage evaluate`, as a user would."""
    train_csv, test_csv, model = work / f"{label}-train.csv", work / f"{label}-test.csv", work / f"{label}.npz"
    for path, rows in ((train_csv, train_rows), (test_csv, test_rows)):
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=[text, label])
            w.writeheader()
            w.writerows({text: r[text], label: r[label]} for r in rows)
    t = time.perf_counter()
    subprocess.run([*TIERDESK, "triage", "train", "--data", str(train_csv), "--text-column", text,
                    "--label-column", label, "--out", str(model)], check=True, capture_output=True)
    train_s = time.perf_counter() - t
    result = subprocess.run([*TIERDESK, "triage", "evaluate", "--data", str(test_csv), "--text-column", text,
                             "--label-column", label, "--model", str(model), "--json"],
                            check=True, capture_output=True, text=True)
    s = json.loads(result.stdout)["label"]
    return {"n_train": len(train_rows), "n_test": s["n"], "accuracy": s["accuracy"],
            "macro_f1": s["macro_f1"], "train_s": round(train_s, 1)}


def latency(triager: Triager, texts: list[tuple[str, str | None]]) -> dict:
    for text, subject in texts[:200]:
        triager.decide(TriageInput(text, subject))
    timings = []
    for text, subject in texts:
        t = time.perf_counter()
        triager.decide(TriageInput(text, subject))
        timings.append((time.perf_counter() - t) * 1000)
    timings.sort()
    return {"n": len(timings), "p50_ms": round(statistics.median(timings), 3),
            "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 3), "max_ms": round(timings[-1], 3)}


def throughput(triager: Triager, texts: list[tuple[str, str | None]], batch: int = 256) -> float:
    items = [TriageInput(t, s) for t, s in texts]
    triager.decide_many(items[:batch])
    t = time.perf_counter()
    for start in range(0, len(items), batch):
        triager.decide_many(items[start : start + batch])
    return len(items) / (time.perf_counter() - t)


def load_time() -> dict:
    code = ("import time; t=time.perf_counter(); from tierdesk.triage.decision import default_model; "
            "default_model(); a=time.perf_counter()-t; from tierdesk.triage.decision import Triager; "
            "from tierdesk.config import get_settings; "
            "Triager.load(None, get_settings().triage_confidence_threshold).warm_up(); print(a, time.perf_counter()-t)")
    best = None
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO / "src")})
        model_s, ready_s = map(float, out.stdout.split())
        best = (model_s, ready_s) if best is None or model_s < best[0] else best
    return {"model_load_s": round(best[0], 3), "ready_s": round(best[1], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "triage")
    parser.add_argument("--skip-csv", action="store_true", help="skip the CSV-trained queue and CLINC150 figures")
    args = parser.parse_args()

    triager = Triager.load(None, get_settings().triage_confidence_threshold)
    tickets = read(args.data / "tickets_multilang.csv")
    clear = [r for r in tickets if r["route_clear"] == "1" and r["route"] in {d.value for d in Department}]
    holdout = read(REPO / "bench" / "data" / "triage_holdout.csv")
    results: dict = {}

    print("department, data the default model never saw:")
    results["tickets_multilang_department"] = department_scores(triager, clear, "text", "route")
    results["tickets_multilang_test_department"] = department_scores(
        triager, [r for r in clear if r["split"] == "test"], "text", "route")
    results["holdout_department"] = department_scores(triager, holdout, "text", "department")
    for lang in ("en", "de"):
        rows = [r for r in holdout if r["language"] == lang]
        results[f"holdout_{lang}_department"] = department_scores(triager, rows, "text", "department")
    for name in ("tickets_multilang_department", "tickets_multilang_test_department", "holdout_department",
                 "holdout_en_department", "holdout_de_department"):
        r = results[name]
        print(f"  {name:36s} n={r['n']:5d}  balanced accuracy {r['balanced_accuracy']:.4f}  "
              f"accuracy {r['accuracy']:.4f}  sent to a person {r['needs_human_share']:.1%}")

    if not args.skip_csv:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            print("CSV-trained labels (tierdesk triage train --data / evaluate):")
            results["tickets_multilang_queue"] = csv_label_accuracy(
                [r for r in tickets if r["split"] == "train"], [r for r in tickets if r["split"] == "test"],
                "text", "queue", work)
            clinc = [r for r in read(args.data / "clinc150.csv") if r["intent"] != "oos"]  # in-scope intents
            results["clinc150_intent"] = csv_label_accuracy(
                [r for r in clinc if r["split"] == "train"], [r for r in clinc if r["split"] == "test"],
                "text", "intent", work)
            for name in ("tickets_multilang_queue", "clinc150_intent"):
                r = results[name]
                print(f"  {name:36s} train {r['n_train']}  test {r['n_test']}  accuracy {r['accuracy']:.4f}  "
                      f"macro-F1 {r['macro_f1']:.4f}  ({r['train_s']} s to train)")

    mixed = [(r["text"], r.get("subject") or None) for r in holdout] + [(r["text"], None) for r in tickets]
    results["single"] = latency(triager, mixed[:3000])
    results["batch_msgs_per_s"] = round(throughput(triager, [(r["text"], None) for r in tickets] * 2))
    results.update(load_time())
    print(f"speed: single p50 {results['single']['p50_ms']} ms, p99 {results['single']['p99_ms']} ms; "
          f"batch {results['batch_msgs_per_s']} msg/s; model load {results['model_load_s']} s "
          f"(ready with language detector {results['ready_s']} s)")
    results["conditions"] = {
        "cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
        "model": DEFAULT_MODEL_PATH.name, "model_bytes": DEFAULT_MODEL_PATH.stat().st_size,
        "mean_chars_tickets_multilang": round(statistics.mean(len(r["text"]) for r in tickets)),
    }
    summary = {
        "department_balanced_accuracy_holdout": results["holdout_department"]["balanced_accuracy"],
        "department_balanced_accuracy_tickets_multilang": results["tickets_multilang_department"]["balanced_accuracy"],
        "queue_accuracy_tickets_multilang": results.get("tickets_multilang_queue", {}).get("accuracy"),
        "clinc150_inscope_intent_accuracy": results.get("clinc150_intent", {}).get("accuracy"),
        "single_p50_ms": results["single"]["p50_ms"],
        "single_p99_ms": results["single"]["p99_ms"],
        "batch_msgs_per_s": results["batch_msgs_per_s"],
        "model_load_s": results["model_load_s"],
        "details": results,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
