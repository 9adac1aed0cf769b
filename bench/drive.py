#!/usr/bin/env python3
"""Drives the VirLife benchmark scenarios with wrk against 127.0.0.1 only.

Needs DATABASE_URL and REDIS_URL (bench/run provides them). Every run is
bounded by --duration; figures are for comparison within one run (the
machines are shared and noisy), so ratios matter more than absolutes.
"""
import argparse, json, os, platform, re, socket, subprocess, sys, tempfile, time, urllib.request, uuid

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


class Service:
    """One VirLife process with its own database, on a free port."""

    def __init__(self, binary, extra_env):
        self.port = free_port()
        env = dict(os.environ)
        env.update({
            "ENVIRONMENT": "development", "PORT": str(self.port), "API_HOST": "127.0.0.1",
            "MASTER_API_KEY": MASTER, "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
            "DATABASE_URL": fresh_database(os.environ["DATABASE_URL"]),
            "CACHE_NAMESPACE": "bench" + uuid.uuid4().hex[:8],
            "RATE_LIMIT_ENABLED": "false", "COGNITION_EVERY_N_TURNS": "1000000",
        })
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


def scenario_health(binary, args):
    service = Service(binary, {})
    try:
        result = wrk(service.base + "/health/live", "", args.duration, args.connections)
        result["peak_rss_mb"] = service.rss_mb("VmHWM")
        return result
    finally:
        service.stop()


def scenario_turn(binary, args, cache_enabled):
    service = Service(binary, {"CACHE_ENABLED": "true" if cache_enabled else "false"})
    try:
        key, _, sessions = setup_sessions(service, args.connections)
        script = turn_script(key, sessions, "Tell me about the storm last night.")
        wrk(service.base + "/", script, 2, args.connections)  # warm-up: caches and connection pools
        result = wrk(service.base + "/", script, args.duration, args.connections)
        result["peak_rss_mb"] = service.rss_mb("VmHWM")
        return result
    finally:
        service.stop()


def scenario_idle(binary, args):
    service = Service(binary, {})
    try:
        time.sleep(1)
        return {"ready_s": round(service.ready_after, 3), "idle_rss_mb": round(service.rss_mb(), 1)}
    finally:
        service.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--output", default="bench/results/latest.json")
    args = parser.parse_args()

    rows = {}
    print(f"== idle and cold start", flush=True)
    rows["idle"] = scenario_idle(args.binary, args)
    print(f"== GET /health/live, {args.connections} connections, {args.duration} s", flush=True)
    rows["health"] = scenario_health(args.binary, args)
    print(f"== chat turn, renderer-context cache on (Redis), {args.connections} connections", flush=True)
    rows["turn_cache_warm"] = scenario_turn(args.binary, args, True)
    print(f"== chat turn, renderer-context cache off", flush=True)
    rows["turn_cache_off"] = scenario_turn(args.binary, args, False)

    print()
    print(f"{'scenario':<22}{'req/s':>10}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'errors':>8}{'peak RSS MB':>13}")
    for name, row in rows.items():
        if "rps" in row:
            print(f"{name:<22}{row['rps']:>10.0f}{row['p50_ms']:>10.2f}{row['p90_ms']:>10.2f}{row['p99_ms']:>10.2f}{row['errors']:>8}{row['peak_rss_mb']:>13.1f}")
    print(f"cold start to ready: {rows['idle']['ready_s']} s, idle RSS: {rows['idle']['idle_rss_mb']} MB")
    warm, off = rows["turn_cache_warm"], rows["turn_cache_off"]
    ratio = {"turn_p50_warm_over_off": round(warm["p50_ms"] / off["p50_ms"], 3), "turn_rps_warm_over_off": round(warm["rps"] / off["rps"], 3)}
    print(f"warm context cache vs none: p50 x{ratio['turn_p50_warm_over_off']}, throughput x{ratio['turn_rps_warm_over_off']}")

    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as out:
        json.dump({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                   "duration_s": args.duration, "connections": args.connections, "scenarios": rows, "ratios": ratio}, out, indent=2)
    print(f"results: {args.output}")


if __name__ == "__main__":
    main()
