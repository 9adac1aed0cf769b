#!/usr/bin/env python3
"""Measures VirLife's memory recall on a dataset from dataset.py or locomo.py.

Against a running service. The generated dataset (dataset.py): one
character; every turn is stored through POST /v1/characters/{id}/memories as
an episodic memory of its person ("[2025-03-14] Maya: ..."), and each
question searches with its person's user_id. A conversations dataset
(locomo.py): one character per conversation, made by POST
/v1/characters/import so every memory keeps the time it happened; the
memories are world memories (no user_id) and questions search without one.
Import does not return memory ids, so they are mapped back to turns by
listing the character's memories and matching contents (every turn with the
same content counts as that memory).

Each question is asked through POST /v1/characters/{id}/memories/search once
per mode (vector, lexical, hybrid); recall@k = the fraction of a question's
evidence turns found in the top k, averaged over questions, overall and per
question style (LoCoMo: per category).

With --embed-url (the embedding server VirLife uses), it also ranks the same
turns in Python, outside VirLife, as reference points: dense cosine over
the same embeddings (py-dense), textbook BM25 (py-bm25: rank_bm25's
BM25Okapi formula, k1 1.2, b 0.75, idf floor 0.25 x mean idf, lower-cased
\\w+ tokens, no stop words, no stemming) and unweighted reciprocal-rank
fusion of the two (py-rrf: k = 60 over each list's top max(30, min(150,
3k)), the depth VirLife fuses); each over the memories the VirLife search
could see (the person's, or the conversation's). Needs numpy.

Prints Markdown tables and writes JSON.

Authentication: --api-key, or --master-key (or none, for a development
service without MASTER_API_KEY) to mint a key for a throwaway tenant.

Usage: evaluate.py --base-url http://127.0.0.1:8000 --dataset data.json
           [--api-key KEY | --master-key KEY] [--out results.json]
           [--modes vector,lexical,hybrid] [--concurrency 8] [--embed-url URL]
           [--rankings FILE]
"""
import argparse
import collections
import datetime as dt
import http.client
import json
import math
import re
import sys
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

CUTOFFS = (5, 10, 25)
MAX_IMPORTED_MEMORIES = 2000  # src/core/use_cases/portability.rs
STYLE_ORDER = ("anchored", "paraphrase", "exact", "multi", "single-hop", "multi-hop", "temporal", "open-domain")
BASELINES = ("py-dense", "py-bm25", "py-rrf")


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

    def call(self, method, path, body=None, key=None, resend=True):
        """resend=False: a dropped connection is an error, not a retry (the request may have been done)."""
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
                if attempt == 5 or not resend:
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
    """What a turn is stored as (VirLife trims it)."""
    if "content" in turn:  # locomo.py writes it
        return turn["content"].strip()
    # The date goes into the text: memories added through the API are stamped
    # with the time they were stored, not when the conversation happened.
    return f"[{turn['date']}] {turn['speaker']}: {turn['text']}".strip()


def units(data):
    """The dataset as characters to fill: dicts with the character, turns, questions and how to load them."""
    if data.get("kind") == "conversations":
        return [{"key": c["id"], "character": c["character"], "turns": c["turns"], "questions": c["questions"],
                 "load": "import"} for c in data["conversations"]]
    return [{"key": "generated", "character": data["character"], "turns": data["turns"],
             "questions": data["questions"], "load": "add"}]


def same_content(turns):
    """content -> every turn id with that content (a memory stands for all of them)."""
    groups = collections.defaultdict(list)
    for turn in turns:
        groups[memory_content(turn)].append(turn["id"])
    return groups


def ingest_add(api, unit, concurrency):
    """Stores every turn one POST at a time; returns (character id, {memory id: [turn ids]})."""
    character = api.call("POST", "/v1/characters", {"name": unit["character"]["name"],
                                                    "persona": unit["character"]["persona"]})["id"]
    print(f"evaluate: character {character}; storing {len(unit['turns'])} turns", file=sys.stderr, flush=True)
    groups = same_content(unit["turns"])
    done, lock, started = [0], threading.Lock(), time.monotonic()
    turns = unit["turns"]

    def add(turn):
        memory = api.call("POST", f"/v1/characters/{character}/memories", {
            "content": memory_content(turn), "kind": "episodic", "importance": 0.5, "user_id": turn["user_id"]})
        with lock:
            done[0] += 1
            if done[0] % 500 == 0 or done[0] == len(turns):
                rate = done[0] / max(time.monotonic() - started, 1e-9)
                print(f"  stored {done[0]}/{len(turns)} memories ({rate:.0f}/s)", file=sys.stderr, flush=True)
        return memory["id"], groups[memory_content(turn)]

    with ThreadPoolExecutor(concurrency) as pool:
        return character, dict(pool.map(add, turns)), {}


def list_memories(api, character):
    items, cursor = [], None
    while True:
        page = api.call("GET", f"/v1/characters/{character}/memories?limit=100"
                        + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""))
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def when(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def ingest_import(api, unit):
    """One POST /v1/characters/import (memories keep their times); returns
    (character id, {memory id: [turn ids]}, checks)."""
    turns = unit["turns"]
    if len(turns) > MAX_IMPORTED_MEMORIES:
        # Splitting would make several characters; say so instead.
        raise SystemExit(f"{unit['key']}: {len(turns)} turns, more than the {MAX_IMPORTED_MEMORIES} one import takes")
    body = {"format": "virlife.character.v1", "character": unit["character"],
            "memories": [{"kind": "episodic", "content": memory_content(t), "created_at": t["created_at"],
                          "importance": 0.5} for t in turns]}
    size = len(json.dumps(body).encode())
    try:
        character = api.call("POST", "/v1/characters/import", body, resend=False)["id"]
    except HttpError as err:
        if err.status == 413:
            raise SystemExit(f"{unit['key']}: the import body ({size} bytes) is over the service's "
                             "MAX_BODY_BYTES; raise it for this run") from err
        raise
    listed = list_memories(api, character)
    groups = same_content(turns)
    expected = collections.defaultdict(set)  # identical contents may come from different sessions
    for t in turns:
        expected[memory_content(t)].add(when(t["created_at"]))
    mapping, unmatched, wrong_time = {}, 0, 0
    for memory in listed:
        ids = groups.get(memory["content"])
        if ids is None:
            unmatched += 1
            continue
        mapping[memory["id"]] = ids
        if when(memory["created_at"]) not in expected[memory["content"]]:
            wrong_time += 1
    checks = {"body_bytes": size, "memories_listed": len(listed), "turns": len(turns),
              "memories_matching_no_turn": unmatched, "memories_with_another_time": wrong_time}
    if len(listed) != len(turns) or unmatched:
        raise SystemExit(f"{unit['key']}: imported {len(turns)} turns, listed {len(listed)} memories, "
                         f"{unmatched} matching no turn")
    print(f"evaluate: {unit['key']} imported as {character}: {len(listed)} memories ({size} bytes)",
          file=sys.stderr, flush=True)
    return character, mapping, checks


def search_all(api, jobs, modes, k, concurrency):
    """jobs: (character, memory->turns map, question). Returns
    ({mode: {question id: [[turn ids] per hit, best first]}}, errors, weak answers, vector cosines)."""
    results = {mode: {} for mode in modes}
    errors = {}
    # Answers that were weaker than asked: "degraded", or ranked by another
    # mode than requested (hybrid falls back to lexical when the query could
    # not be embedded).
    weak = {mode: {"degraded": 0, "other_mode": 0} for mode in modes}
    cosines = {}  # question id -> the vector list's cosine of each hit (vector mode)

    def search(job):
        mode, (character, memory_to_turns, question) = job
        if mode in errors:
            return mode, question["id"], None
        body = {"query": question["question"], "k": k, "mode": mode}
        if question.get("user_id"):
            body["user_id"] = question["user_id"]
        try:
            found = api.call("POST", f"/v1/characters/{character}/memories/search", body)
        except HttpError as err:
            if err.status in (400, 422):  # e.g. a server that rejects the "mode" field or this value
                errors[mode] = str(err)
                return mode, question["id"], None
            raise
        if found.get("degraded"):
            weak[mode]["degraded"] += 1
        if found.get("mode", mode) != mode:
            weak[mode]["other_mode"] += 1
        if mode == "vector":
            cosines[question["id"]] = [(hit.get("scores") or {}).get("vector", {}).get("score")
                                       for hit in found["results"]]
        return mode, question["id"], [memory_to_turns.get(hit["memory"]["id"], ["?"]) for hit in found["results"]]

    all_jobs = [(mode, job) for mode in modes for job in jobs]
    with ThreadPoolExecutor(concurrency) as pool:
        for mode, qid, ranked in pool.map(search, all_jobs):
            if ranked is not None:
                results[mode][qid] = ranked
    return results, errors, weak, cosines


def recall(ranked, evidence, k):
    found = set()
    for ids in ranked[:k]:
        found.update(ids)
    return len(found & set(evidence)) / len(evidence)


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


def markdown(scores, rows, styles):
    lines = ["| mode | " + " | ".join(f"recall@{k}" for k in CUTOFFS) + " | "
             + " | ".join(f"{s} @10" for s in styles) + " |",
             "|---|" + "---:|" * (len(CUTOFFS) + len(styles))]
    for mode in rows:
        if mode not in scores:
            lines.append(f"| {mode} | " + " | ".join("n/a" for _ in range(len(CUTOFFS) + len(styles))) + " |")
            continue
        row = scores[mode]
        cells = [f"{row['all'][f'recall@{k}']:.3f}" for k in CUTOFFS]
        cells += [f"{row[s]['recall@10']:.3f}" if s in row and row[s]["recall@10"] is not None else "-" for s in styles]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_by_style(scores, rows, styles):
    """One block per style: every mode's recall@5/10/25."""
    lines = ["| style | n | mode | " + " | ".join(f"recall@{k}" for k in CUTOFFS) + " |",
             "|---|---:|---|" + "---:|" * len(CUTOFFS)]
    for style in styles:
        for mode in rows:
            row = scores.get(mode, {}).get(style)
            if not row:
                continue
            lines.append(f"| {style} | {row['questions']} | {mode} | "
                         + " | ".join(f"{row[f'recall@{k}']:.3f}" for k in CUTOFFS) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------ Python baselines

TOKEN = re.compile(r"\w+")


def tokens(text):
    return TOKEN.findall(text.lower())


class Bm25:
    """rank_bm25's BM25Okapi (negative idf floored at epsilon x mean idf), k1 1.2, b 0.75."""

    def __init__(self, documents, k1=1.2, b=0.75, epsilon=0.25):
        self.k1, self.b = k1, b
        self.freqs = [collections.Counter(d) for d in documents]
        self.lengths = [len(d) for d in documents]
        self.average = sum(self.lengths) / max(len(documents), 1)
        df = collections.Counter(w for f in self.freqs for w in f)
        n = len(documents)
        self.idf = {w: math.log(n - c + 0.5) - math.log(c + 0.5) for w, c in df.items()}
        floor = epsilon * sum(self.idf.values()) / max(len(self.idf), 1)
        self.idf = {w: (v if v >= 0 else floor) for w, v in self.idf.items()}
        self.postings = collections.defaultdict(list)
        for i, f in enumerate(self.freqs):
            for w, c in f.items():
                self.postings[w].append((i, c))

    def rank(self, query):
        """Document indexes with a positive score, best first (ties: earlier first)."""
        scores = collections.defaultdict(float)
        for w in query:  # a repeated query word counts again, as rank_bm25's get_scores
            for i, c in self.postings.get(w, ()):
                norm = 1 - self.b + self.b * self.lengths[i] / self.average
                scores[i] += self.idf[w] * c * (self.k1 + 1) / (c + self.k1 * norm)
        return sorted((i for i, s in scores.items() if s > 0), key=lambda i: (-scores[i], i))


def embed_texts(url, texts, batch=256):
    import numpy as np
    api = Api(url, timeout=600)
    out = []
    for start in range(0, len(texts), batch):
        answer = api.call("POST", "/v1/embeddings", {"model": "all-MiniLM-L6-v2", "input": texts[start:start + batch]})
        out += [row["embedding"] for row in sorted(answer["data"], key=lambda r: r["index"])]
    vectors = np.asarray(out, dtype=np.float32)
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


def baselines(embed_url, all_units, k):
    """{baseline: {question id: [[turn ids] per hit]}} and {question id: [cosine of each dense hit]}."""
    import numpy as np
    depth = max(30, min(150, 3 * k))  # VirLife's list_depth(k)
    ranked = {b: {} for b in BASELINES}
    cosines = {}
    for unit in all_units:
        turns = unit["turns"]
        contents = [memory_content(t) for t in turns]
        groups = same_content(turns)
        doc_vectors = embed_texts(embed_url, contents)
        q_vectors = embed_texts(embed_url, [q["question"] for q in unit["questions"]])
        # The memories a search could see: the person's (generated) or all (a conversation).
        scopes = collections.defaultdict(list)
        for i, t in enumerate(turns):
            scopes[t.get("user_id")].append(i)
        indexes = {scope: (np.asarray(members), Bm25([tokens(contents[i]) for i in members]))
                   for scope, members in scopes.items()}
        for q, qv in zip(unit["questions"], q_vectors):
            members, bm25 = indexes[q.get("user_id")]
            sims = doc_vectors[members] @ qv
            order = np.argsort(-sims, kind="stable")
            dense = [int(members[j]) for j in order[:depth]]
            cosines[q["id"]] = [float(sims[j]) for j in order[:k]]
            lexical = [int(members[j]) for j in bm25.rank(tokens(q["question"]))[:depth]]
            fused = collections.defaultdict(float)
            for lst in (dense, lexical):
                for rank, i in enumerate(lst, 1):
                    fused[i] += 1 / (60 + rank)
            rrf = sorted(fused, key=lambda i: (-fused[i], i))
            for name, lst in (("py-dense", dense), ("py-bm25", lexical), ("py-rrf", rrf)):
                ranked[name][q["id"]] = [groups[contents[i]] for i in lst[:k]]
    return ranked, cosines


def compare_dense(virlife, python, cosines_v, cosines_p, k):
    """How VirLife's vector mode differs from plain dense cosine over the same embeddings."""
    same = {c: 0 for c in (10, k)}
    diffs = []
    for qid, ranked in virlife.items():
        if qid not in python:
            continue
        for c in same:
            same[c] += ranked[:c] == python[qid][:c]
        for a, b in zip(cosines_v.get(qid, []), cosines_p.get(qid, [])):
            if a is not None:
                diffs.append(abs(a - b))
    n = sum(1 for qid in virlife if qid in python)
    return {"questions": n, **{f"identical_top{c}": same[c] for c in same},
            "largest_cosine_difference_same_rank": round(max(diffs), 6) if diffs else None}


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
    parser.add_argument("--embed-url", help="the embedding server (http://127.0.0.1:PORT): also rank in Python")
    parser.add_argument("--rankings", help="also write every question's ranked turn ids per mode here (for analysis)")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if args.k < max(CUTOFFS):
        raise SystemExit(f"--k must be at least {max(CUTOFFS)}")

    with open(args.dataset) as f:
        data = json.load(f)
    all_units = units(data)
    questions = [q for u in all_units for q in u["questions"]]
    n_turns = sum(len(u["turns"]) for u in all_units)
    # Question texts of a dataset that may not be redistributed stay out of the results.
    shareable = (data.get("meta") or {}).get("redistributable", True)
    api = Api(args.base_url, args.api_key, timeout=600)
    if not args.api_key:
        tenant = "retrieval-" + uuid.uuid4().hex[:8]
        api.key = api.call("POST", "/v1/admin/api-keys", {"tenant": tenant, "name": "retrieval-bench"}, key=args.master_key)["key"]

    started = time.monotonic()
    jobs, import_checks = [], {}
    for unit in all_units:
        if unit["load"] == "import":
            character, memory_to_turns, checks = ingest_import(api, unit)
            import_checks[unit["key"]] = checks
        else:
            character, memory_to_turns, _ = ingest_add(api, unit, args.concurrency)
        jobs += [(character, memory_to_turns, q) for q in unit["questions"]]
    ingest_s = time.monotonic() - started
    started = time.monotonic()
    ranked, errors, weak, cosines = search_all(api, jobs, modes, args.k, args.concurrency)
    search_s = time.monotonic() - started

    scores = {m: score(questions, ranked[m]) for m in modes if m not in errors}
    notes = [f"mode {m} refused: {e}" for m, e in errors.items()]
    for m, counts in weak.items():
        if counts["degraded"] or counts["other_mode"]:
            notes.append(f"mode {m}: {counts['degraded']} answers degraded, {counts['other_mode']} ranked by another mode")
    # The service ignores unknown JSON fields, so a build without "mode"
    # answers every mode alike; say so rather than report a tie.
    usable = [m for m in modes if m not in errors]
    if len(usable) > 1 and all(ranked[usable[0]] == ranked[m] for m in usable[1:]):
        notes.append("every mode returned identical rankings: this server probably ignores \"mode\"")
    wrong_time = sum(c["memories_with_another_time"] for c in import_checks.values())
    if wrong_time:
        notes.append(f"{wrong_time} imported memories came back with another created_at than sent")

    baseline_s, dense_check = None, None
    rows = list(modes)
    embedded_by_virlife = None
    if args.embed_url:
        # Before the baselines use it: a VirLife on its offline hashed-word
        # embeddings would still answer, without ever calling this server.
        embedded_by_virlife = Api(args.embed_url).call("GET", "/health")["texts"]
        if not embedded_by_virlife:
            raise SystemExit("VirLife never called the embedding server (is it on its offline LLM?)")
        started = time.monotonic()
        python_ranked, python_cosines = baselines(args.embed_url, all_units, args.k)
        baseline_s = time.monotonic() - started
        for name in BASELINES:
            scores[name] = score(questions, python_ranked[name])
            ranked[name] = python_ranked[name]
        rows += list(BASELINES)
        if "vector" in usable:
            dense_check = compare_dense(ranked["vector"], python_ranked["py-dense"], cosines, python_cosines, args.k)

    present = {q["style"] for q in questions}
    styles = [s for s in STYLE_ORDER if s in present] + sorted(present - set(STYLE_ORDER))
    gain = None
    if "vector" in scores and "hybrid" in scores and scores["vector"]["all"]["recall@10"]:
        v, h = scores["vector"]["all"]["recall@10"], scores["hybrid"]["all"]["recall@10"]
        gain = round((h - v) / v, 4)

    name = data.get("name") or "generated"
    people = f" ({len(data['people'])} people)" if "people" in data else f" ({len(all_units)} characters)"
    print(f"\nRetrieval quality ({name}): {len(questions)} questions over {n_turns} memories{people}, k={args.k}\n")
    print(markdown(scores, rows, styles))
    print("\nPer style:\n")
    print(markdown_by_style(scores, rows, styles))
    if gain is not None:
        print(f"\nhybrid vs vector at @10: {gain * 100:+.1f}% relative")
    if dense_check:
        print(f"\nVirLife vector vs py-dense: identical top-10 order for {dense_check['identical_top10']} of "
              f"{dense_check['questions']} questions, identical top-{args.k} for {dense_check[f'identical_top{args.k}']}; "
              f"largest cosine difference at the same rank {dense_check['largest_cosine_difference_same_rank']}")
    for note in notes:
        print(f"\nNOTE: {note}")
    print(f"\ningest {ingest_s:.1f}s ({n_turns / ingest_s:.0f} memories/s), "
          f"search {search_s:.1f}s ({len(questions) * len(usable) / max(search_s, 1e-9):.0f} searches/s)"
          + (f", Python baselines {baseline_s:.1f}s (embedding included)" if baseline_s is not None else ""))

    if args.out:
        report = {"base_url": args.base_url, "dataset": data.get("meta"), "k": args.k, "modes": modes,
                  "scores": scores, "hybrid_vs_vector_at_10": gain, "notes": notes, "weak_answers": weak,
                  "timing_s": {"ingest": round(ingest_s, 2), "search": round(search_s, 2),
                               "baselines": round(baseline_s, 2) if baseline_s is not None else None}}
        if shareable:
            report["misses_at_10"] = {
                m: [{"question": q["id"], "style": q["style"], "text": q["question"], "evidence": q["evidence"],
                     "top5": ranked[m][q["id"]][:5]}
                    for q in questions if q["id"] in ranked[m] and recall(ranked[m][q["id"]], q["evidence"], 10) < 1]
                for m in usable}
        else:
            # Ids alone are unreadable without the data, and the data may not
            # travel with the results; --rankings keeps every list locally.
            report["misses_at_10"] = "left out: the dataset may not be redistributed (see --rankings)"
        if import_checks:
            report["imports"] = import_checks
        if args.embed_url:
            report["baselines"] = {
                "py-dense": "cosine over the same all-MiniLM-L6-v2 embeddings of the stored contents",
                "py-bm25": "rank_bm25 BM25Okapi formula, k1 1.2, b 0.75, epsilon 0.25; lower-cased \\w+ tokens",
                "py-rrf": f"1/(60+rank) summed over py-dense and py-bm25, each cut at {max(30, min(150, 3 * args.k))}",
                "scope": "the memories the VirLife search could see (the person's, or the conversation's)",
                "texts_virlife_had_embedded": embedded_by_virlife,
                "vector_vs_py_dense": dense_check}
        with open(args.out, "w") as f:
            json.dump(report, f, ensure_ascii=False, indent=1)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.rankings:
        with open(args.rankings, "w") as f:
            json.dump({"k": args.k, "rankings": ranked}, f)
        print(f"wrote {args.rankings}", file=sys.stderr)
    if not usable:
        raise SystemExit("no mode could be scored")


if __name__ == "__main__":
    main()
