#!/usr/bin/env python3
"""Converts the LoCoMo long-conversation benchmark into the kit's dataset form.

LoCoMo (Maharana et al., ACL 2024; https://github.com/snap-research/locomo)
is CC BY-NC 4.0 and is not redistributed here: download data/locomo10.zip
from that repository, unzip it, and pass the folder. --locomo takes the
folder holding the ten conversation files (…/data/multimodal_dialog/
locomo10_v2/26.json …) or any folder above it.

One character per conversation; every turn becomes a world memory (no
user_id) whose content is "{speaker}: {text}", plus " [shares a photo:
{blip_caption}]" when the turn shares an image, and whose time is its
session's date_time ("1:56 pm on 8 May, 2023", read as UTC). Questions keep
their LoCoMo category (1 multi-hop, 2 temporal, 3 open-domain, 4
single-hop); category 5 (adversarial: unanswerable by design, no answer in
the data) is skipped, and so is a question none of whose evidence ids name a
turn. Evidence ids are dia_ids ("D1:3"); malformed ones are repaired where
the intent is plain ("D1:3; D2:5" and "D9:1 D4:4" are split, "D30:05" is
D30:5, "D:11:26" is D11:26) and dropped otherwise; every repair and skip is
counted in meta.

Usage: locomo.py --locomo DIR --out data.json
"""
import argparse
import collections
import datetime as dt
import glob
import json
import os
import re
import sys

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
SOURCE = "https://github.com/snap-research/locomo (data/locomo10.zip), CC BY-NC 4.0"


def conversation_files(path):
    """The conversation files under `path`: the folder holding them, or one above it."""
    for folder in (path, os.path.join(path, "locomo10_v2"), os.path.join(path, "multimodal_dialog", "locomo10_v2"),
                   os.path.join(path, "data", "multimodal_dialog", "locomo10_v2")):
        files = sorted(glob.glob(os.path.join(folder, "*.json")), key=lambda f: (len(f), f))
        if files:
            return files
    raise SystemExit(f"no LoCoMo conversation files (*.json) in {path} or its data/multimodal_dialog/locomo10_v2")


def parse_when(text):
    """'1:56 pm on 8 May, 2023' -> an aware UTC datetime (LoCoMo gives no zone)."""
    return dt.datetime.strptime(" ".join(text.split()), "%I:%M %p on %d %B, %Y").replace(tzinfo=dt.timezone.utc)


def content_of(turn):
    text = f"{turn['speaker']}: {turn['text']}"
    if turn.get("blip_caption"):
        text += f" [shares a photo: {turn['blip_caption']}]"
    return text.strip()  # as VirLife stores it


def evidence_ids(raw, known, counts):
    """The dia_ids a question's evidence names, repaired where plain; the rest counted and dropped."""
    found, dropped = [], 0
    for item in raw:
        parts = [p for p in re.split(r"[;,\s]+", item.strip()) if p]
        if len(parts) > 1:
            counts["evidence strings holding several ids (split)"] += 1
        for part in parts:
            m = re.fullmatch(r"D:?(\d+):(\d+)", part)
            if not m:
                counts[f"evidence ids unreadable, dropped ({part!r})"] += 1
                dropped += 1
                continue
            dia = f"D{int(m.group(1))}:{int(m.group(2))}"
            if dia != part:
                counts[f"evidence ids repaired ({part!r} -> {dia!r})"] += 1
            if dia not in known:
                counts[f"evidence ids naming no turn, dropped ({dia!r})"] += 1
                dropped += 1
                continue
            if dia not in found:
                found.append(dia)
    return found, dropped


def convert(files):
    conversations, counts = [], collections.Counter()
    per_category = collections.Counter()
    for path in files:
        with open(path) as f:
            raw = json.load(f)
        conv = raw.get("conversation", raw)  # locomo10.json nests it; the v2 files do not
        sample = str(raw.get("sample_id") or os.path.splitext(os.path.basename(path))[0])
        sample = sample if sample.startswith("conv-") else f"conv-{sample}"
        numbers = sorted(int(m.group(1)) for k in conv if (m := re.fullmatch(r"session_(\d+)", k)))
        turns, known = [], {}
        for n in numbers:
            when = conv.get(f"session_{n}_date_time")
            if not when:
                raise SystemExit(f"{path}: session_{n} has no date_time")
            created = parse_when(when).isoformat().replace("+00:00", "Z")
            for turn in conv[f"session_{n}"]:
                tid = f"{sample}/{turn['dia_id']}"
                if turn["dia_id"] in known:
                    raise SystemExit(f"{path}: dia_id {turn['dia_id']} twice")
                known[turn["dia_id"]] = tid
                turns.append({"id": tid, "dia_id": turn["dia_id"], "session": n, "speaker": turn["speaker"],
                              "date_time": when, "created_at": created, "content": content_of(turn),
                              "photo": bool(turn.get("blip_caption"))})
        counts["date_time keys without a session (ignored)"] += sum(
            1 for k in conv if (m := re.fullmatch(r"session_(\d+)_date_time", k)) and int(m.group(1)) not in numbers)
        same = collections.Counter(t["content"] for t in turns)
        counts["turns whose content another turn repeats"] += sum(v for v in same.values() if v > 1)
        questions = []
        for i, qa in enumerate(raw["qa"]):
            category = qa.get("category")
            if category == 5:
                counts["questions skipped: category 5 (adversarial)"] += 1
                continue
            if not qa.get("evidence"):
                counts[f"questions skipped: no evidence (category {category})"] += 1
                continue
            evidence, dropped = evidence_ids(qa["evidence"], known, counts)
            if not evidence:
                counts[f"questions skipped: no evidence id names a turn (category {category})"] += 1
                continue
            if dropped:
                counts["questions kept with part of their evidence dropped"] += 1
            per_category[category] += 1
            questions.append({"id": f"{sample}/q{i:03d}", "question": qa["question"], "answer": str(qa.get("answer", "")),
                              "evidence": [known[d] for d in evidence], "category": category,
                              "style": CATEGORIES.get(category, f"category-{category}")})
        a, b = conv["speaker_a"], conv["speaker_b"]
        conversations.append({
            "id": sample,
            "character": {"name": f"{a} & {b} ({sample})",
                          "persona": f"Remembers every conversation between {a} and {b} (LoCoMo {sample})."},
            "turns": turns, "questions": questions})
        counts["questions (all categories)"] += len(raw["qa"])
    return conversations, counts, per_category


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--locomo", required=True, help="the unzipped LoCoMo data (see above)")
    parser.add_argument("--out", required=True, help="JSON file to write (keep it out of the repository)")
    args = parser.parse_args()
    files = conversation_files(args.locomo)
    conversations, counts, per_category = convert(files)
    turns = sum(len(c["turns"]) for c in conversations)
    questions = sum(len(c["questions"]) for c in conversations)
    meta = {"source": SOURCE, "redistributable": False, "files": [os.path.basename(f) for f in files],
            "conversations": len(conversations), "turns": turns, "questions": questions,
            "styles": {CATEGORIES[c]: per_category[c] for c in sorted(per_category)},
            "evidence_per_question": round(sum(len(q["evidence"]) for c in conversations for q in c["questions"])
                                           / max(questions, 1), 3),
            "counts": dict(sorted(counts.items()))}
    data = {"kind": "conversations", "name": "LoCoMo", "conversations": conversations, "meta": meta}
    with open(args.out, "w") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
    print(f"locomo: {len(conversations)} conversations, {turns} turns, {questions} questions "
          f"{meta['styles']}", file=sys.stderr)
    for what, n in sorted(counts.items()):
        print(f"  {n:5d}  {what}", file=sys.stderr)


if __name__ == "__main__":
    main()
