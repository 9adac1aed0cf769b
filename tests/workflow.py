"""The GitHub workflow for users parses, and runs what the README promises:
pull requests run .ci/run, which calls the README's test command; main
deploys with the Railway CLI and a RAILWAY_TOKEN secret, then waits for
/health to say ok. Run with a Python that has PyYAML (tests/run uses
schemathesis' venv)."""
import re
import sys

import yaml

workflow = yaml.safe_load(open(".github/workflows/ci.yml"))
# YAML 1.1 reads the key `on` as true.
triggers = workflow.get("on", workflow.get(True))
assert "pull_request" in triggers, triggers
assert triggers["push"]["branches"] == ["main"], triggers

readme = open("README.md").read()
first_block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
test_command = first_block.splitlines()[1].split("#")[0].strip()
assert test_command == "tests/run", test_command
assert re.search(rf"^{re.escape(test_command)}$", open(".ci/run").read(), re.M), ".ci/run calls the README's test command"

jobs = workflow["jobs"]
test_steps = [step.get("run", "") for step in jobs["test"]["steps"]]
assert ".ci/run" in test_steps, test_steps

deploy = jobs["deploy"]
assert deploy["needs"] == "test", deploy
assert "refs/heads/main" in deploy["if"] and "push" in deploy["if"], deploy["if"]
assert deploy["env"]["RAILWAY_TOKEN"] == "${{ secrets.RAILWAY_TOKEN }}", deploy["env"]
runs = [step.get("run", "") for step in deploy["steps"]]
assert any("npm install --global @railway/cli" in r for r in runs), runs
assert any(r.startswith("railway up ") for r in runs), runs
wait = next(r for r in runs if "HEALTH_URL" in r)
assert '.status' in wait and '= ok ]' in wait and "exit 1" in wait, wait
print("workflow: parses; pull requests run .ci/run (-> tests/run); main deploys with railway up and waits for /health ok")
