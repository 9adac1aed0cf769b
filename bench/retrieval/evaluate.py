#!/usr/bin/env python3
"""Measures VirLife's memory recall on a dataset from dataset.py.

Against a running service: creates a character, stores every turn as an
episodic memory of its person ("[2025-03-14] Maya: ..."), then asks each
question through POST /v1/characters/{id}/memories/search once per mode
(vector, lexical, hybrid) with the question's user_id, and scores
recall@k = the fraction of a question's evidence turns found in the top k,
averaged over questions. Prints a Markdown table and writes JSON.

Authentication: --api-key, or --master-key (or none, for a development
service without MASTER_API_KEY) to mint a key for a throwaway tenant.

Usage: evaluate.py --base-url http://127.0.0.1:8000 --dataset data.json
           [--api-key KEY | --master-key KEY] [--out results.json]
           [--modes vector,lexical,hybrid] [--concurrency 8]
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

CUTOFFS = (5, 10, 25)


class Api:
    """JSON over one keep-alive connection per thread; retries 429/503 and dropped connections."""

    def __init__(self, base_url, key=None, timeout=60):
        url = urllib.parse.urlsplit(base_url.rstrip("/"))
        self.scheme, self.netloc, self.prefix = url.scheme, url.netloc, url.path
        self.key, self.timeout = key, timeout
        self.local = threading.local()

    def _connection(self):
        if getattr(self.local, "conn", None) is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            self.local.conn = cls(self.netloc, timeout=self.timeout)
        return self.local.conn

    def call(self, method, path, body=None, key=None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key or self.key:
            headers["Authorization"] = "Bearer " + (key or self.key)
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(6):
            try:
                conn = self._connection()
                conn.request(method, self.prefix + path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except (http.client.HTTPException, OSError):
                self.local.conn = None  # the server closed a kept-alive connection; open another
                if attempt == 5:
                    raise
                time.sleep(0.2 * 2 ** attempt)
                continue
            if response.status in (429, 503) and attempt < 5:
                time.sleep(float(response.getheader("Retry-After") or 0.2 * 2 ** attempt))
                continue
            if response.status >= 400:
                raise HttpError(method, path, response.status, raw.decode(errors="replace"))
            return json.loads(raw) if raw else None
        raise AssertionError("unreachable")


class HttpError(Exception):
    def __init__(self, method, path, status, body):
        super().__init__(f"{method} {path}: HTTP {status}: {body[:500]}")
        self.status = status


def memory_content(turn):
    # The date goes into the text: memories added through the API are stamped
    # with the time they were stored, not when the conversation happened.
    return f"[{turn['date']}] {turn['speaker']}: {turn['text']}"


def ingest(api, character, turns, concurrency):
    """Stores every turn; returns {memory id: turn id}."""
    done, lock, started = [0], threading.Lock(), time.monotonic()

    def add(turn):
        memory = api.call("POST", f"/v1/characters/{character}/memories", {
            "content": memory_content(turn), "kind": "episodic", "importance": 0.5, "user_id": turn["user_id"]})
        with lock:
            done[0] += 1
            if done[0] % 500 == 0 or done[0] == len(turns):
                rate = done[0] / max(time.monotonic() - started, 1e-9)
                print(f"  stored {done[0]}/{len(turns)} memories ({rate:.0f}/s)", file=sys.stderr, flush=True)
        return memory["id"], turn["id"]

    with ThreadPoolExecutor(concurrency) as pool:
        return dict(pool.map(add, turns))


def search_all(api, character, questions, modes, k, concurrency, memory_to_turn):
    """{mode: {question id: [turn ids, best first]}}; a mode the server refuses maps to its error."""
    results = {mode: {} for mode in modes}
    errors = {}

    def search(job):
        mode, question = job
        if mode in errors:
            return mode, question["id"], None
        try:
            found = api.call("POST", f"/v1/characters/{character}/memories/search", {
                "query": question["question"], "k": k, "user_id": question["user_id"], "mode": mode})
        except HttpError as err:
            if err.status in (400, 422):  # e.g. a server that rejects the "mode" field or this value
                errors[mode] = str(err)
                return mode, question["id"], None
            raise
        return mode, question["id"], [memory_to_turn.get(hit["memory"]["id"], "?") for hit in found["results"]]

    jobs = [(mode, q) for mode in modes for q in questions]
    with ThreadPoolExecutor(concurrency) as pool:
        for mode, qid, ranked in pool.map(search, jobs):
            if ranked is not None:
                results[mode][qid] = ranked
    return results, errors


def recall(ranked, evidence, k):
    return len(set(ranked[:k]) & set(evidence)) / len(evidence)


def score(questions, ranked_by_question):
    """Mean recall@k over the questions, overall and per question style."""
    groups = {"all": questions}
    for q in questions:
        groups.setdefault(q["style"], []).append(q)
    table = {}
    for name, group in groups.items():
        scored = [q for q in group if q["id"] in ranked_by_question]
        table[name] = {"questions": len(scored)}
        for k in CUTOFFS:
            values = [recall(ranked_by_question[q["id"]], q["evidence"], k) for q in scored]
            table[name][f"recall@{k}"] = round(sum(values) / len(values), 4) if values else None
    return table


def markdown(scores, modes, styles):
    lines = ["| mode | " + " | ".join(f"recall@{k}" for k in CUTOFFS) + " | "
             + " | ".join(f"{s} @10" for s in styles) + " |",
             "|---|" + "---:|" * (len(CUTOFFS) + len(styles))]
    for mode in modes:
        if mode not in scores:
            lines.append(f"| {mode} | " + " | ".join("n/a" for _ in range(len(CUTOFFS) + len(styles))) + " |")
            continue
        row = scores[mode]
        cells = [f"{row['all'][f'recall@{k}']:.3f}" for k in CUTOFFS]
        cells += [f"{row[s]['recall@10']:.3f}" if s in row and row[s]["recall@10"] is not None else "-" for s in styles]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", help="a tenant API key")
    parser.add_argument("--master-key", help="mint a tenant key with this admin key (omit for a dev service without one)")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", help="write the results here as JSON")
    parser.add_argument("--modes", default="vector,lexical,hybrid")
    parser.add_argument("--k", type=int, default=25, help="results asked per search (at least the largest cutoff)")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if args.k < max(CUTOFFS):
        raise SystemExit(f"--k must be at least {max(CUTOFFS)}")

    with open(args.dataset) as f:
        data = json.load(f)
    api = Api(args.base_url, args.api_key)
    if not args.api_key:
        tenant = "retrieval-" + uuid.uuid4().hex[:8]
        api.key = api.call("POST", "/v1/admin/api-keys", {"tenant": tenant, "name": "retrieval-bench"}, key=args.master_key)["key"]
    character = api.call("POST", "/v1/characters", {"name": data["character"]["name"], "persona": data["character"]["persona"]})["id"]
    print(f"evaluate: character {character}; storing {len(data['turns'])} turns", file=sys.stderr, flush=True)

    started = time.monotonic()
    memory_to_turn = ingest(api, character, data["turns"], args.concurrency)
    ingest_s = time.monotonic() - started
    started = time.monotonic()
    ranked, errors = search_all(api, character, data["questions"], modes, args.k, args.concurrency, memory_to_turn)
    search_s = time.monotonic() - started

    scores = {m: score(data["questions"], ranked[m]) for m in modes if m not in errors}
    notes = [f"mode {m} refused: {e}" for m, e in errors.items()]
    # The service ignores unknown JSON fields, so a build without "mode"
    # answers every mode alike; say so rather than report a tie.
    usable = [m for m in modes if m not in errors]
    if len(usable) > 1 and all(ranked[usable[0]] == ranked[m] for m in usable[1:]):
        notes.append("every mode returned identical rankings: this server probably ignores \"mode\"")
    styles = [s for s in ("anchored", "paraphrase", "exact", "multi") if any(q["style"] == s for q in data["questions"])]
    gain = None
    if "vector" in scores and "hybrid" in scores and scores["vector"]["all"]["recall@10"]:
        v, h = scores["vector"]["all"]["recall@10"], scores["hybrid"]["all"]["recall@10"]
        gain = round((h - v) / v, 4)

    print(f"\nRetrieval quality: {len(data['questions'])} questions over {len(data['turns'])} memories "
          f"({len(data['people'])} people), k={args.k}\n")
    print(markdown(scores, modes, styles))
    if gain is not None:
        print(f"\nhybrid vs vector at @10: {gain * 100:+.1f}% relative")
    for note in notes:
        print(f"\nNOTE: {note}")
    print(f"\ningest {ingest_s:.1f}s ({len(data['turns']) / ingest_s:.0f} memories/s), "
          f"search {search_s:.1f}s ({len(data['questions']) * len(usable) / max(search_s, 1e-9):.0f} searches/s)")

    if args.out:
        misses = {m: [{"question": q["id"], "style": q["style"], "text": q["question"], "evidence": q["evidence"],
                       "top5": ranked[m][q["id"]][:5]}
                      for q in data["questions"] if q["id"] in ranked[m] and recall(ranked[m][q["id"]], q["evidence"], 10) < 1]
                  for m in usable}
        report = {"base_url": args.base_url, "dataset": data.get("meta"), "k": args.k, "modes": modes,
                  "scores": scores, "hybrid_vs_vector_at_10": gain, "notes": notes,
                  "timing_s": {"ingest": round(ingest_s, 2), "search": round(search_s, 2)},
                  "misses_at_10": misses}
        with open(args.out, "w") as f:
            json.dump(report, f, ensure_ascii=False, indent=1)
        print(f"wrote {args.out}", file=sys.stderr)
    if not scores:
        raise SystemExit("no mode could be scored")


if __name__ == "__main__":
    main()
