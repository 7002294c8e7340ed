"""Prepare a keyroute data directory for the shared peer benchmark harness (``peer-bench``).

The harness's fake upstreams listen on fixed ports (18000 back-to-back, 18001 paced) and its
load generator sends ``model: gpt-4o-mini`` / ``gpt-4o-mini-paced``; this script registers both
upstreams as provider keys, aliases those two model names to them, creates a gateway key, and
prints the environment to hand ``run_peers.sh``:

    python bench/peer_setup.py /tmp/kr-peer    # prints CUSTOM_CMD, CUSTOM_URL, CUSTOM_ARGS, ...
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

from overhead import BIN, keyroute, unlimited  # the same subprocess helpers as make bench


def main() -> None:
    data = Path(sys.argv[1]).resolve()
    port = sys.argv[2] if len(sys.argv) > 2 else "14003"
    env = {**os.environ, "KEYROUTE_DATA_DIR": str(data)}
    keyroute(env, "init", "--json")
    unlimited(env)
    keyroute(
        env,
        "provider-key",
        "add",
        "--workspace",
        "default",
        "--provider",
        "openai",
        "--key-stdin",
        "--base-url",
        "http://127.0.0.1:18000/v1",
        stdin="sk-fake",
    )
    keyroute(
        env,
        "provider-key",
        "add",
        "--workspace",
        "default",
        "--provider",
        "openai-compatible",
        "--name",
        "paced",
        "--key-stdin",
        "--base-url",
        "http://127.0.0.1:18001/v1",
        stdin="sk-fake",
    )
    keyroute(env, "alias", "set", "--workspace", "default", "gpt-4o-mini", "openai/gpt-4o-mini")
    keyroute(
        env, "alias", "set", "--workspace", "default", "gpt-4o-mini-paced", "paced/gpt-4o-mini"
    )
    key = json.loads(keyroute(env, "api-key", "create", "--workspace", "default", "--json"))["key"]
    url = f"http://127.0.0.1:{port}"
    cmd = f"env KEYROUTE_DATA_DIR={data} {BIN / 'keyroute'} serve --port {port}"
    print(f"export CUSTOM_CMD={shlex.quote(cmd)}")
    print(f"export CUSTOM_URL={url}")
    print(f"export CUSTOM_HEALTH={url}/health")
    print(f"export CUSTOM_ARGS={shlex.quote(f'--model gpt-4o-mini -H x-api-key:{key}')}")
    print(
        "export CUSTOM_PACED_ARGS="
        + shlex.quote(f"--url {url} --model gpt-4o-mini-paced -H x-api-key:{key}")
    )


if __name__ == "__main__":
    main()
