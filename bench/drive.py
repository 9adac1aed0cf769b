#!/usr/bin/env python3
"""Drives the VirLife benchmark scenarios with wrk against 127.0.0.1 only.

Needs DATABASE_URL and REDIS_URL (bench/run provides them). Every run is
bounded by --duration; figures are for comparison within one run (the
machines are shared and noisy), so ratios matter more than absolutes.
"""
import argparse, json, os, platform, re, socket, subprocess, sys, tempfile, threading, time, urllib.request, uuid

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
    return {"rps": requests, "p50_ms": latency.get("50"), "p90_ms": latency.get("90"), "p99_ms": latency.get("99"), "errors": errors}


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


def scenario_turn(binary, args, llm, cache_enabled):
    service = Service(binary, {"CACHE_ENABLED": "true" if cache_enabled else "false"}, llm)
    try:
        key, _, sessions = setup_sessions(service, args.connections)
        return measured(service, service.base + "/", turn_script(key, sessions, "Tell me about the storm last night."), args)
    finally:
        service.stop()


def scenario_memory_add(binary, args, llm):
    service = Service(binary, {}, llm)
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


def scenario_search(binary, args, llm, memories):
    service = Service(binary, {}, llm)
    try:
        key, character, _ = setup_sessions(service, 1)
        words = ["storm", "harbour", "sailing", "lighthouse", "captain", "whale", "map", "treasure", "island", "compass"]
        # Seed through the API in parallel batches (each add is embedded and stored).
        def seed(start, count):
            for i in range(start, start + count):
                text = f"Memory {i}: the {words[i % 10]} and the {words[(i * 7) % 10]} on day {i}"
                call(service.base, "POST", f"/v1/characters/{character}/memories", key, {"kind": "episodic", "content": text})
        threads = [threading.Thread(target=seed, args=(n * (memories // 8), memories // 8)) for n in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        lua = f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
wrk.body = '{{"query": "the storm over the lighthouse", "k": 10}}'
"""
        return measured(service, f"{service.base}/v1/characters/{character}/memories/search", lua, args)
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


def scenario_idle(binary, args, llm):
    service = Service(binary, {}, llm)
    try:
        time.sleep(1)
        return {"ready_s": round(service.ready_after, 3), "idle_rss_mb": round(service.rss_mb(), 1)}
    finally:
        service.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--mock-llm", required=True)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--search-memories", type=int, default=10000)
    parser.add_argument("--stream-samples", type=int, default=50)
    parser.add_argument("--output", default="bench/results/latest.json")
    args = parser.parse_args()

    llm = MockLlm(args.mock_llm)
    rows = {}
    try:
        steps = [
            ("idle", lambda: scenario_idle(args.binary, args, llm)),
            ("health", lambda: scenario_health(args.binary, args, llm)),
            ("turn_cache_warm", lambda: scenario_turn(args.binary, args, llm, True)),
            ("turn_cache_off", lambda: scenario_turn(args.binary, args, llm, False)),
            ("memory_add", lambda: scenario_memory_add(args.binary, args, llm)),
            (f"search_{args.search_memories}", lambda: scenario_search(args.binary, args, llm, args.search_memories)),
            ("stream", lambda: scenario_stream(args.binary, args, args.mock_llm)),
        ]
        for name, run in steps:
            print(f"== {name}", flush=True)
            rows[name] = run()
    finally:
        llm.stop()

    print()
    print(f"{args.connections} connections, {args.duration} s per scenario, zero-latency mock LLM, PostgreSQL and Redis on loopback")
    print(f"{'scenario':<22}{'req/s':>10}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'errors':>8}{'peak RSS MB':>13}")
    for name, row in rows.items():
        if "rps" in row:
            print(f"{name:<22}{row['rps']:>10.0f}{row['p50_ms']:>10.2f}{row['p90_ms']:>10.2f}{row['p99_ms']:>10.2f}{row['errors']:>8}{row['peak_rss_mb']:>13.1f}")
    stream = rows["stream"]
    print(f"streamed turn (20 tokens, 10 ms apart): first delta p50 {stream['first_delta_p50_ms']} ms, p99 {stream['first_delta_p99_ms']} ms; done p50 {stream['total_p50_ms']} ms")
    print(f"cold start to ready: {rows['idle']['ready_s']} s, idle RSS: {rows['idle']['idle_rss_mb']} MB")
    warm, off = rows["turn_cache_warm"], rows["turn_cache_off"]
    ratio = {"turn_p50_warm_over_off": round(warm["p50_ms"] / off["p50_ms"], 3), "turn_rps_warm_over_off": round(warm["rps"] / off["rps"], 3)}
    print(f"warm renderer-context cache vs none: p50 x{ratio['turn_p50_warm_over_off']}, throughput x{ratio['turn_rps_warm_over_off']}")

    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as out:
        json.dump({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                   "duration_s": args.duration, "connections": args.connections, "scenarios": rows, "ratios": ratio}, out, indent=2)
    print(f"results: {args.output}")


if __name__ == "__main__":
    main()
