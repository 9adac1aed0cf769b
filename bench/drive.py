#!/usr/bin/env python3
"""Drives the VirLife benchmark scenarios with wrk against 127.0.0.1 only.

Needs DATABASE_URL and REDIS_URL (bench/run provides them). Every run is
bounded by --duration; figures are for comparison within one run (the
machines are shared and noisy), so ratios matter more than absolutes.
"""
import argparse, http.client, json, os, platform, random, re, socket, subprocess, sys, tempfile, threading, time, urllib.request, uuid

MASTER = "bench-master-key-0123456789abcdefghijkl"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(base, method, path, key=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", "Bearer " + key)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def fresh_database(server_url):
    name = "bench_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", server_url, "-qc", f"CREATE DATABASE {name}"], check=True)
    return server_url.rsplit("/", 1)[0] + "/" + name


class MockLlm:
    """The mock OpenAI-compatible provider (examples/mock_llm.rs)."""

    def __init__(self, binary, latency_ms=0, tokens=20, interval_ms=0, dimensions=256):
        self.port = free_port()
        env = dict(os.environ, MOCK_PORT=str(self.port), MOCK_LATENCY_MS=str(latency_ms), MOCK_TOKENS=str(tokens),
                   MOCK_TOKEN_INTERVAL_MS=str(interval_ms), MOCK_DIMENSIONS=str(dimensions))
        self.process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}/v1"
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("mock LLM did not start")
                time.sleep(0.02)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


class Service:
    """One VirLife process with its own database, on a free port."""

    def __init__(self, binary, extra_env, llm=None, dimensions=256):
        self.port = free_port()
        env = dict(os.environ)
        # A Qdrant bench/run started is for the scenarios that ask for it.
        env.pop("QDRANT_URL", None)
        env.update({
            "ENVIRONMENT": "development", "PORT": str(self.port), "API_HOST": "127.0.0.1",
            "MASTER_API_KEY": MASTER, "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
            "DATABASE_URL": fresh_database(os.environ["DATABASE_URL"]),
            "CACHE_NAMESPACE": "bench" + uuid.uuid4().hex[:8],
            "RATE_LIMIT_ENABLED": "false", "COGNITION_EVERY_N_TURNS": "1000000",
            "EMBEDDING_DIMENSIONS": str(dimensions),
        })
        if llm is not None:
            env.update({"VENICE_API_KEY": "sk-bench", "VENICE_BASE_URL": llm.url, "EMBEDDING_MODEL_ID": "mock-embeddings"})
        env.update(extra_env)
        self.log = tempfile.NamedTemporaryFile(prefix="virlife-bench-", suffix=".log", delete=False)
        started = time.monotonic()
        self.env = env
        self.process = subprocess.Popen([binary], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        while True:
            try:
                if urllib.request.urlopen(self.base + "/health/ready", timeout=1).status == 200:
                    break
            except Exception:
                pass
            if time.monotonic() - started > 30:
                raise SystemExit("service did not become ready; log: " + self.log.name)
            time.sleep(0.01)
        self.ready_after = time.monotonic() - started

    def rss_mb(self, field="VmRSS"):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def wrk(url, lua, duration, connections):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    threads = max(1, min(2, connections))
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency", "--timeout", "10s", "-s", script.name, url],
        capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)

    def ms(text):
        value, unit = float(text[:-2] if text.endswith(("ms", "us")) else text[:-1]), text[-2:] if text.endswith(("ms", "us")) else text[-1:]
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    latency = {p: ms(v) for p, v in re.findall(r"^\s+(50|90|99)(?:\.000)?%\s+(\S+)", out, re.M)}
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"):
        for match in re.findall(pattern, out):
            errors += sum(int(n) for n in (match if isinstance(match, tuple) else (match,)))
    requests = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    result = {"rps": requests, "p50_ms": latency.get("50"), "p90_ms": latency.get("90"), "p99_ms": latency.get("99"), "errors": errors}
    p95 = re.search(r"^P95_US ([\d.]+)", out, re.M)
    if p95:
        result["p95_ms"] = round(float(p95.group(1)) / 1000, 2)
    return result


def turn_script(key, sessions, content):
    paths = ",".join(f'"/v1/sessions/{s}/messages"' for s in sessions)
    return f"""
local paths = {{{paths}}}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
wrk.body = '{json.dumps({"content": content})}'
request = function()
  return wrk.format(nil, paths[math.random(#paths)])
end
"""


def setup_sessions(service, count):
    key = call(service.base, "POST", "/v1/admin/api-keys", MASTER, {"tenant": "bench", "name": "bench"})["key"]
    character = call(service.base, "POST", "/v1/characters", key, {"name": "Ada", "persona": "A retired sea captain who loves storms."})["id"]
    sessions = [call(service.base, "POST", f"/v1/characters/{character}/sessions", key, {"user_name": "Sam"})["id"] for _ in range(count)]
    return key, character, sessions


def measured(service, url, lua, args):
    wrk(url, lua, 2, args.connections)  # warm-up: caches and connection pools
    result = wrk(url, lua, args.duration, args.connections)
    result["peak_rss_mb"] = service.rss_mb("VmHWM")
    return result


def scenario_health(binary, args, llm):
    service = Service(binary, {}, llm)
    try:
        return measured(service, service.base + "/health/live", "", args)
    finally:
        service.stop()


def sqlite_env():
    """The single-service shape: a SQLite file of its own, no Redis."""
    folder = tempfile.mkdtemp(prefix="virlife-bench-sqlite-")
    return {"DATABASE_URL": f"sqlite://{folder}/virlife.db", "REDIS_URL": "", "BACKUP_INTERVAL_HOURS": "0"}


def scenario_turn(binary, args, llm, cache_enabled, store_env=None):
    env = {"CACHE_ENABLED": "true" if cache_enabled else "false", **(store_env or {})}
    service = Service(binary, env, llm)
    try:
        key, _, sessions = setup_sessions(service, args.connections)
        return measured(service, service.base + "/", turn_script(key, sessions, "Tell me about the storm last night."), args)
    finally:
        service.stop()


def metric_sums(base):
    """Sum and count of each `virlife_port_seconds` port and of the turn
    route's `virlife_http_request_seconds`, as /metrics reads now."""
    text = urllib.request.urlopen(urllib.request.Request(
        base + "/metrics", headers={"Authorization": f"Bearer {MASTER}"}), timeout=10).read().decode()
    sums = {}
    for line in text.splitlines():
        match = re.match(r"^(virlife_port_seconds|virlife_http_request_seconds)_(sum|count)\{(.*)\} (\S+)$", line)
        if not match:
            continue
        name, part, labels, value = match.groups()
        if name == "virlife_port_seconds":
            port = re.search(r'port="([^"]+)"', labels).group(1)
            call = re.search(r'call="([^"]+)"', labels)
            # Each port's total, and each call's.
            if call:
                calls_key = (f"{port}.{call.group(1)}", part)
                sums[calls_key] = sums.get(calls_key, 0.0) + float(value)
            key = port
        elif 'route="/v1/sessions/{id}/messages"' in labels and 'method="POST"' in labels:
            key = "request"
        else:
            continue
        sums[(key, part)] = sums.get((key, part), 0.0) + float(value)
    return sums


def port_buckets(base, port, call):
    """The cumulative bucket counts ({le: count}) and the sum of one port
    call's `virlife_port_seconds`, as /metrics reads now."""
    text = urllib.request.urlopen(urllib.request.Request(
        base + "/metrics", headers={"Authorization": f"Bearer {MASTER}"}), timeout=10).read().decode()
    buckets, total = {}, 0.0
    labels = f'call="{call}"'
    for line in text.splitlines():
        if not line.startswith("virlife_port_seconds") or f'port="{port}"' not in line or labels not in line:
            continue
        bucket = re.match(r'^virlife_port_seconds_bucket\{.*le="([^"]+)".*\} (\S+)$', line)
        if bucket:
            buckets[bucket.group(1)] = buckets.get(bucket.group(1), 0.0) + float(bucket.group(2))
        elif line.startswith("virlife_port_seconds_sum"):
            total += float(line.rsplit(" ", 1)[1])
    return buckets, total


def within(before, after, le):
    """The share of calls between two `port_buckets` readings that took at most `le` seconds."""
    count = after[0].get("+Inf", 0.0) - before[0].get("+Inf", 0.0)
    if count <= 0:
        return None, 0
    return round((after[0].get(le, 0.0) - before[0].get(le, 0.0)) / count, 4), int(count)


def scenario_turn_c1(binary, args, llm):
    """One turn at a time on one session: client latency p50/p99, and where
    a turn's service time goes (from the port spans, per turn)."""
    service = Service(binary, {}, llm)
    try:
        key, _, sessions = setup_sessions(service, 1)
        path = f"/v1/sessions/{sessions[0]}/messages"
        body = json.dumps({"content": "Tell me about the storm last night."})
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)

        def turn():
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status

        warm_until = time.monotonic() + 2
        while time.monotonic() < warm_until:
            turn()
        before = metric_sums(service.base)
        latencies, errors = [], 0
        until = time.monotonic() + args.duration
        while time.monotonic() < until:
            started = time.perf_counter()
            status = turn()
            latencies.append((time.perf_counter() - started) * 1000)
            errors += status != 201
        after = metric_sums(service.base)
        turns = after.get(("request", "count"), 0) - before.get(("request", "count"), 0)
        per_turn = {}
        if turns > 0:
            service_ms = (after[("request", "sum")] - before[("request", "sum")]) / turns * 1000
            per_turn["service"] = round(service_ms, 3)
            in_ports = 0.0
            for port in ("store", "cache", "vector_memory", "llm"):
                spent = (after.get((port, "sum"), 0) - before.get((port, "sum"), 0)) / turns * 1000
                calls = (after.get((port, "count"), 0) - before.get((port, "count"), 0)) / turns
                per_turn[port] = round(spent, 3)
                per_turn[port + "_calls"] = round(calls, 2)
                in_ports += spent
            # Port calls may overlap (the turn runs some concurrently): the
            # rest is an estimate of the service's own work (routing, JSON,
            # prompt building), never below zero.
            per_turn["own_work"] = round(max(service_ms - in_ports, 0.0), 3)
            calls = {k[0]: (after[k] - before.get(k, 0)) / turns * 1000 for k in after
                     if k[1] == "sum" and "." in k[0]}
            per_turn["top_calls"] = {name: round(ms, 3) for name, ms in sorted(calls.items(), key=lambda c: -c[1])[:6]}
        latencies.sort()

        def at(q):
            return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 3)

        return {"rps": round(len(latencies) / args.duration, 1), "p50_ms": at(0.5), "p90_ms": at(0.9), "p99_ms": at(0.99),
                "errors": errors, "peak_rss_mb": service.rss_mb("VmHWM"), "turns": len(latencies), "per_turn_ms": per_turn}
    finally:
        service.stop()


def scenario_memory_add(binary, args, llm, store_env=None):
    service = Service(binary, store_env or {}, llm)
    try:
        key, character, _ = setup_sessions(service, 1)
        lua = f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
wrk.body = '{{"kind": "episodic", "content": "The harbour flooded after the storm and the boats drifted out."}}'
"""
        return measured(service, f"{service.base}/v1/characters/{character}/memories", lua, args)
    finally:
        service.stop()


# wrk prints 50/75/90/99; the search goals are stated at p95.
P95_LUA = """
done = function(summary, latency, requests)
  io.write(string.format("P95_US %f\\n", latency:percentile(95)))
end
"""


def scenario_search(binary, args, llm, memories, vector_env=None):
    """Search over `memories` memories of one character, at --search-connections
    (low, so latency is the search's, not a queue's), with p95, in the
    mode --search-mode names (hybrid by default: both lists, fused)."""
    mode = args.search_mode
    service = Service(binary, vector_env or {}, llm)
    try:
        key, character, _ = setup_sessions(service, 1)
        words = ["storm", "harbour", "sailing", "lighthouse", "captain", "whale", "map", "treasure", "island", "compass"]
        # Memories read like short turns: a few words from a Zipf-shaped
        # vocabulary of 5,000 (common words in many memories, most words in
        # few, as in conversation), and in about a third of them one of the
        # ten theme words the query asks about; the lexical side then reads
        # postings as long as real ones, not every memory.
        def text_of(i):
            rng = random.Random(i)
            body = [f"w{min(int(rng.paretovariate(1.1)), 5000)}" for _ in range(6 + rng.randrange(8))]
            if rng.random() < 0.33:
                body.insert(rng.randrange(len(body) + 1), words[rng.randrange(10)])
            return f"Memory {i}: " + " ".join(body)
        # Seed through the API in parallel batches (each add is embedded and stored).
        def seed(start, count):
            for i in range(start, start + count):
                call(service.base, "POST", f"/v1/characters/{character}/memories", key,
                     {"kind": "episodic", "content": text_of(i)})
        started = time.monotonic()
        threads = [threading.Thread(target=seed, args=(n * (memories // 8), memories // 8)) for n in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        seeded_s = round(time.monotonic() - started, 1)
        lua = f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
wrk.body = '{{"query": "the storm over the lighthouse", "k": 10, "mode": "{mode}"}}'
""" + P95_LUA
        backend = call(service.base, "GET", "/health")["services"]["vector_memory"]["backend"]
        url = f"{service.base}/v1/characters/{character}/memories/search"
        wrk(url, lua, 2, args.search_connections)  # warm-up
        # The search without the embedding call (the goal is stated so):
        # the index's own time from its port span, read as the share of
        # searches within 25 and 50 ms (histogram buckets), and the
        # embedding call's mean, both over the measured run only.
        index_before = port_buckets(service.base, "vector_memory", "search")
        embed_before = port_buckets(service.base, "llm", "embed")
        result = wrk(url, lua, args.duration, args.search_connections)
        result["peak_rss_mb"] = service.rss_mb("VmHWM")
        index_after = port_buckets(service.base, "vector_memory", "search")
        embed_after = port_buckets(service.base, "llm", "embed")
        within_25, searches = within(index_before, index_after, "0.025")
        within_50, _ = within(index_before, index_after, "0.05")
        embeds = within(embed_before, embed_after, "+Inf")[1]
        result.update({"memories": memories, "backend": backend, "seeded_s": seeded_s,
                       "connections": args.search_connections, "mode": mode,
                       "index_searches": searches, "index_within_25ms": within_25, "index_within_50ms": within_50,
                       "embed_mean_ms": round(1000 * (embed_after[1] - embed_before[1]) / embeds, 2) if embeds else None})
        return result
    finally:
        service.stop()


def scenario_stream(binary, args, llm_binary):
    """Streamed turns: time to first delta and to done, from a mock that streams 20 tokens 10 ms apart."""
    llm = MockLlm(llm_binary, latency_ms=0, tokens=20, interval_ms=10)
    service = Service(binary, {}, llm)
    try:
        key, _, sessions = setup_sessions(service, 1)
        first, total = [], []
        for i in range(args.stream_samples):
            request = urllib.request.Request(f"{service.base}/v1/sessions/{sessions[0]}/messages/stream",
                                             data=json.dumps({"content": f"stream {i}"}).encode(), method="POST")
            request.add_header("Content-Type", "application/json")
            request.add_header("Authorization", "Bearer " + key)
            started = time.monotonic()
            seen_first = None
            with urllib.request.urlopen(request, timeout=30) as response:
                for line in response:
                    if seen_first is None and line.startswith(b"event: delta"):
                        seen_first = time.monotonic() - started
                    if line.startswith(b"event: done"):
                        break
            first.append(seen_first * 1000)
            total.append((time.monotonic() - started) * 1000)
        first.sort()
        total.sort()
        pick = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))]
        return {"first_delta_p50_ms": round(pick(first, 0.5), 2), "first_delta_p99_ms": round(pick(first, 0.99), 2),
                "total_p50_ms": round(pick(total, 0.5), 2), "samples": len(first), "peak_rss_mb": service.rss_mb("VmHWM")}
    finally:
        service.stop()
        llm.stop()


def tree_rss_mb(pid, field="VmHWM"):
    """Peak (or current) RSS of a process and its children, in MB."""
    total = 0.0
    pids = [pid]
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        pids += [int(p) for p in out.split()]
    except Exception:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as status:
                for line in status:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def scenario_reference_turn(binary, args, llm):
    """The same chat turn on FastAPI + uvicorn (4 workers) + asyncpg + redis-py."""
    service = Service(binary, {}, llm)
    reference = None
    try:
        key, _, sessions = setup_sessions(service, args.connections)
        database = service.env["DATABASE_URL"]
        service.stop()
        port = free_port()
        env = dict(os.environ, DATABASE_URL=database, LLM_URL=llm.url)
        reference = subprocess.Popen(
            [os.path.join(os.path.abspath(args.reference_venv), "bin", "uvicorn"), "app:app", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "4", "--log-level", "warning"],
            cwd="bench/reference", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("reference did not start")
                time.sleep(0.1)
        script = turn_script(key, sessions, "Tell me about the storm last night.")
        wrk(base + "/", script, 2, args.connections)
        result = wrk(base + "/", script, args.duration, args.connections)
        result["peak_rss_mb"] = tree_rss_mb(reference.pid)
        return result
    finally:
        if service.process.poll() is None:
            service.stop()
        if reference is not None:
            reference.terminate()
            reference.wait(timeout=30)


async def one_stream(port, path, key, index):
    import asyncio
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"content": f"concurrent stream {index}"})
    writer.write((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}").encode())
    await writer.drain()
    seen = b""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        seen += chunk
        if b"event: done" in seen or b"event: error" in seen:
            break
    writer.close()
    return b"event: done" in seen


def scenario_concurrent_streams(binary, args, llm_binary):
    """N streamed turns at once against a mock that takes 2 s per reply."""
    import asyncio, resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, args.streams * 2 + 1024)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    llm = MockLlm(llm_binary, latency_ms=2000, tokens=5)
    service = Service(binary, {"DATABASE_MAX_CONNECTIONS": "40", "DATABASE_ACQUIRE_TIMEOUT_SECONDS": "30"}, llm)
    try:
        key, _, sessions = setup_sessions(service, 50)
        async def run_all():
            tasks = [one_stream(service.port, f"/v1/sessions/{sessions[i % len(sessions)]}/messages/stream", key, i)
                     for i in range(args.streams)]
            return await asyncio.gather(*tasks, return_exceptions=True)
        started = time.monotonic()
        outcomes = asyncio.run(run_all())
        elapsed = time.monotonic() - started
        ok = sum(1 for o in outcomes if o is True)
        return {"streams": args.streams, "completed": ok, "errors": args.streams - ok, "seconds": round(elapsed, 2),
                "peak_rss_mb": round(service.rss_mb("VmHWM"), 1)}
    finally:
        service.stop()
        llm.stop()


async def one_turn(port, path, key, index):
    """A plain turn over a raw connection: (status, seconds)."""
    import asyncio
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"content": f"overload {index}"})
    writer.write((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}").encode())
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    status = int(status_line.split()[1]) if len(status_line.split()) > 1 else 0
    return status, time.monotonic() - started


def scenario_overload(binary, args, llm_binary):
    """Twice MAX_CONCURRENT_TURNS at once, in waves, against a 2 s model:
    the bound's worth is admitted, the rest refused at once; RSS after each wave."""
    import asyncio
    bound = 64
    llm = MockLlm(llm_binary, latency_ms=2000, tokens=5)
    service = Service(binary, {"MAX_CONCURRENT_TURNS": str(bound), "DATABASE_MAX_CONNECTIONS": "40",
                               "DATABASE_ACQUIRE_TIMEOUT_SECONDS": "30"}, llm)
    try:
        key, _, sessions = setup_sessions(service, 2 * bound)
        waves = []
        for wave in range(args.overload_waves):
            async def run_wave():
                return await asyncio.gather(*[one_turn(service.port, f"/v1/sessions/{sessions[i]}/messages", key, i)
                                              for i in range(2 * bound)])
            outcomes = asyncio.run(run_wave())
            refused = sorted(t for status, t in outcomes if status == 503)
            waves.append({"admitted": sum(1 for status, _ in outcomes if status == 201), "refused": len(refused),
                          "other": sum(1 for status, _ in outcomes if status not in (201, 503)),
                          "refused_p99_ms": round(refused[min(len(refused) - 1, int(0.99 * len(refused)))] * 1000, 1) if refused else None,
                          "rss_mb": round(service.rss_mb("VmRSS"), 1)})
        return {"bound": bound, "waves": waves, "peak_rss_mb": round(service.rss_mb("VmHWM"), 1)}
    finally:
        service.stop()
        llm.stop()


def scenario_idle(binary, args, llm):
    service = Service(binary, {}, llm)
    try:
        time.sleep(1)
        return {"ready_s": round(service.ready_after, 3), "idle_rss_mb": round(service.rss_mb(), 1)}
    finally:
        service.stop()


def search_steps(args, llm):
    """Search on every path at every size: in process, PostgreSQL's exact
    scan, pgvector (PGVECTOR_DATABASE_URL) and Qdrant (QDRANT_URL) when there."""
    sizes = [int(n) for n in args.search_memories.split(",") if n]
    steps = []
    for n in sizes:
        # QDRANT_URL may be in the environment (bench/run starts one): only
        # the Qdrant path gets it.
        paths = [("in_process", lambda: {"DATABASE_URL": "", "QDRANT_URL": ""}),
                 ("postgres_exact", lambda: {"QDRANT_URL": ""})]
        if os.environ.get("PGVECTOR_DATABASE_URL"):
            paths.append(("pgvector", lambda: {"DATABASE_URL": fresh_database(os.environ["PGVECTOR_DATABASE_URL"]),
                                               "QDRANT_URL": ""}))
        else:
            print(f"== search_{n}_pgvector SKIPPED: no PGVECTOR_DATABASE_URL", flush=True)
        if os.environ.get("QDRANT_URL"):
            paths.append(("qdrant", lambda: {"QDRANT_URL": os.environ["QDRANT_URL"],
                                             "QDRANT_COLLECTION": "bench_" + uuid.uuid4().hex[:8]}))
        else:
            print(f"== search_{n}_qdrant SKIPPED: no QDRANT_URL", flush=True)
        for name, env in paths:
            steps.append((f"search_{n}_{name}", lambda n=n, env=env: scenario_search(args.binary, args, llm, n, env())))
    # Qdrant down (a closed port): PostgreSQL answers, and says degraded.
    if sizes:
        steps.append((f"search_{sizes[0]}_qdrant_down", lambda: scenario_search(
            args.binary, args, llm, sizes[0],
            {"QDRANT_URL": f"http://127.0.0.1:{free_port()}", "QDRANT_TIMEOUT_MS": "200"})))
    return steps


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--mock-llm", required=True)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--search-memories", default="10000,100000",
                        help="comma-separated memories per character for the search scenarios")
    parser.add_argument("--search-connections", type=int, default=4)
    parser.add_argument("--search-mode", default="hybrid", choices=["hybrid", "vector", "lexical"])
    parser.add_argument("--stream-samples", type=int, default=50)
    parser.add_argument("--streams", type=int, default=1000, help="concurrent streamed turns (try 10000)")
    parser.add_argument("--overload-waves", type=int, default=5, help="waves of twice the turn bound")
    parser.add_argument("--reference-venv", default="", help="a venv with bench/reference/requirements.txt")
    parser.add_argument("--output", default="bench/results/latest.json")
    parser.add_argument("--only", default="", help="comma-separated scenario name prefixes")
    args = parser.parse_args()

    llm = MockLlm(args.mock_llm)
    rows = {}
    try:
        steps = [
            ("idle", lambda: scenario_idle(args.binary, args, llm)),
            ("health", lambda: scenario_health(args.binary, args, llm)),
            ("turn_c1", lambda: scenario_turn_c1(args.binary, args, llm)),
            ("turn_cache_warm", lambda: scenario_turn(args.binary, args, llm, True)),
            ("turn_cache_off", lambda: scenario_turn(args.binary, args, llm, False)),
            ("memory_add", lambda: scenario_memory_add(args.binary, args, llm)),
            ("sqlite_turn", lambda: scenario_turn(args.binary, args, llm, True, sqlite_env())),
            ("sqlite_memory_add", lambda: scenario_memory_add(args.binary, args, llm, sqlite_env())),
            *search_steps(args, llm),
            ("stream", lambda: scenario_stream(args.binary, args, args.mock_llm)),
            ("concurrent_streams", lambda: scenario_concurrent_streams(args.binary, args, args.mock_llm)),
            ("overload", lambda: scenario_overload(args.binary, args, args.mock_llm)),
        ]
        if args.reference_venv:
            steps.insert(3, ("reference_turn", lambda: scenario_reference_turn(args.binary, args, llm)))
        for name, run in steps:
            if args.only and not any(name.startswith(o) for o in args.only.split(",")):
                continue
            print(f"== {name}", flush=True)
            rows[name] = run()
    finally:
        llm.stop()

    print()
    print(f"{args.connections} connections, {args.duration} s per scenario, zero-latency mock LLM, PostgreSQL and Redis on loopback")
    print(f"{'scenario':<22}{'req/s':>10}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'errors':>8}{'peak RSS MB':>13}")
    for name, row in rows.items():
        if "rps" in row and not name.startswith("search_"):
            print(f"{name:<22}{row['rps']:>10.0f}{row['p50_ms']:>10.2f}{row['p90_ms']:>10.2f}{row['p99_ms']:>10.2f}{row['errors']:>8}{row['peak_rss_mb']:>13.1f}")
    searches = {name: row for name, row in rows.items() if name.startswith("search_")}
    if searches:
        print(f"memory search ({args.search_mode}), one character, k=10, {args.search_connections} connections (latency includes the mock's embedding call):")
        print(f"{'scenario':<30}{'backend':>20}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'RSS MB':>8}"
              f"{'index <=25ms':>14}{'<=50ms':>8}{'embed ms':>10}")
        share = lambda x: f"{100 * x:.1f}%" if x is not None else "n/a"
        for name, row in searches.items():
            print(f"{name:<30}{row['backend']:>20}{row['rps']:>9.0f}{row['p50_ms']:>9.2f}{row.get('p95_ms') or 0:>9.2f}"
                  f"{row['p99_ms']:>9.2f}{row['errors']:>8}{row['peak_rss_mb']:>8.0f}"
                  f"{share(row.get('index_within_25ms')):>14}{share(row.get('index_within_50ms')):>8}{row.get('embed_mean_ms') or 0:>10.2f}")
        print("index <=25ms / <=50ms: the share of the index's own searches (both lists, no embedding call) within 25 and 50 ms; "
              "embed ms: the embedding call's mean")
    if "reference_turn" in rows and "turn_cache_warm" in rows:
        ours, theirs = rows["turn_cache_warm"], rows["reference_turn"]
        ratio_ref = {"turn_rps_virlife_over_reference": round(ours["rps"] / max(theirs["rps"], 0.001), 2),
                     "turn_p99_virlife_over_reference": round(ours["p99_ms"] / max(theirs["p99_ms"], 0.001), 3),
                     "turn_peak_rss_virlife_over_reference": round(ours["peak_rss_mb"] / max(theirs["peak_rss_mb"], 0.001), 3)}
        print(f"chat turn, VirLife / FastAPI reference (same run, same concurrency): throughput x{ratio_ref['turn_rps_virlife_over_reference']}, "
              f"p99 x{ratio_ref['turn_p99_virlife_over_reference']}, peak RSS x{ratio_ref['turn_peak_rss_virlife_over_reference']}")
    c1 = rows.get("turn_c1")
    if c1:
        t = c1["per_turn_ms"]
        print(f"one turn at a time ({c1['turns']} turns, PostgreSQL + Redis, zero-latency mock): p50 {c1['p50_ms']} ms, p99 {c1['p99_ms']} ms client-side; "
              f"service time {t.get('service')} ms per turn: store {t.get('store')} ms ({t.get('store_calls')} calls), cache {t.get('cache')} ms "
              f"({t.get('cache_calls')}), vector search {t.get('vector_memory')} ms ({t.get('vector_memory_calls')}), provider {t.get('llm')} ms "
              f"({t.get('llm_calls')}), the rest (routing, JSON, prompt) {t.get('own_work')} ms; the costliest calls (ms per turn): {t.get('top_calls')}")
    concurrent = rows.get("concurrent_streams")
    if concurrent:
        print(f"{concurrent['streams']} concurrent streamed turns (2 s replies): {concurrent['completed']} done, {concurrent['errors']} errors, "
              f"{concurrent['seconds']} s, peak RSS {concurrent['peak_rss_mb']} MB")
    overload = rows.get("overload")
    if overload:
        waves = overload["waves"]
        print(f"overload, {2 * overload['bound']} turns at once against a bound of {overload['bound']} (2 s model), {len(waves)} waves: "
              f"admitted {[w['admitted'] for w in waves]}, refused {[w['refused'] for w in waves]}, other {[w['other'] for w in waves]}, "
              f"refusal p99 {[w['refused_p99_ms'] for w in waves]} ms, RSS after each wave {[w['rss_mb'] for w in waves]} MB")
    stream = rows.get("stream")
    if stream:
        print(f"streamed turn (20 tokens, 10 ms apart): first delta p50 {stream['first_delta_p50_ms']} ms, p99 {stream['first_delta_p99_ms']} ms; done p50 {stream['total_p50_ms']} ms")
    if "sqlite_turn" in rows and "turn_cache_warm" in rows:
        sqlite_ratio = {"sqlite_turn_rps_over_postgres": round(rows["sqlite_turn"]["rps"] / max(rows["turn_cache_warm"]["rps"], 0.001), 2)}
        if "sqlite_memory_add" in rows and "memory_add" in rows:
            sqlite_ratio["sqlite_memory_add_rps_over_postgres"] = round(rows["sqlite_memory_add"]["rps"] / max(rows["memory_add"]["rps"], 0.001), 2)
        print("SQLite alone / PostgreSQL + Redis (same run): " + ", ".join(f"{k} x{v}" for k, v in sqlite_ratio.items()))
    if "idle" in rows:
        print(f"cold start to ready: {rows['idle']['ready_s']} s, idle RSS: {rows['idle']['idle_rss_mb']} MB")
    ratio = {}
    if "turn_cache_warm" in rows and "turn_cache_off" in rows:
        warm, off = rows["turn_cache_warm"], rows["turn_cache_off"]
        ratio = {"turn_p50_warm_over_off": round(warm["p50_ms"] / off["p50_ms"], 3), "turn_rps_warm_over_off": round(warm["rps"] / off["rps"], 3)}
        print(f"warm renderer-context cache vs none: p50 x{ratio['turn_p50_warm_over_off']}, throughput x{ratio['turn_rps_warm_over_off']}")
    if "reference_turn" in rows and "turn_cache_warm" in rows:
        ratio.update(ratio_ref)
    if "sqlite_turn" in rows and "turn_cache_warm" in rows:
        ratio.update(sqlite_ratio)

    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as out:
        json.dump({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                   "duration_s": args.duration, "connections": args.connections, "scenarios": rows, "ratios": ratio}, out, indent=2)
    print(f"results: {args.output}")


if __name__ == "__main__":
    main()
