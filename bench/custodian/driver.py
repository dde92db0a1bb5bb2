"""Cloud Custodian's Lambda handler on one event, in a fresh process, timed: reflex-bench's peer.

    python driver.py EVENT_JSON CONFIG_DIR

CONFIG_DIR holds `config.json` as Custodian's `mu` packages it next to its handler
(`{"execution-options": ..., "policies": [...]}`); `c7n.handler.dispatch_event` reads it from
the working directory on its first event, as in Lambda. Prints one JSON line on stdout:
import_ms (importing c7n's handler), first_event_ms (dispatch_event on the event: loading the
config, STS for the account id, the policy's IAM reads and the detach), total_ms (from the first
line of this script) and c7n_version. Logs go to stderr.

Only the emulator may be reached: AWS_ENDPOINT_URL must point at loopback (botocore honours it for
every client c7n makes, STS and IAM included), credentials must come from the environment, and
the instance metadata service is switched off. The policy sets no log group, metrics or tracer,
so c7n sends nothing to CloudWatch Logs, CloudWatch metrics or X-Ray, and its output directory
(Lambda's /tmp) is a scratch directory of this run, removed at the end.
"""

import time

T0 = time.perf_counter()

import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class LambdaContext:
    """The attributes of Lambda's Python context object; c7n reads none of them on this path."""

    def __init__(self):
        self.function_name = "custodian-revoke-admin-from-users"
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            "arn:aws:lambda:us-east-1:123456789012:function:" + self.function_name
        )
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = "/aws/lambda/" + self.function_name
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + 60

    def get_remaining_time_in_millis(self):
        return int((self._deadline - time.monotonic()) * 1000)


def refuse_unless_offline():
    """Exit before boto3 is imported unless every call would go to a loopback emulator."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if urlparse(endpoint).hostname not in LOOPBACK:
        sys.exit(f"AWS_ENDPOINT_URL must point at the emulator on loopback, not {endpoint!r}")
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        sys.exit("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS would send c7n's calls to AWS")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        if not os.environ.get(name):
            sys.exit(f"{name} must be set (dummy credentials and region for the emulator)")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def scratch_lambda_dir(config_dir):
    """A private working directory holding config.json, as Lambda's task directory holds it,
    with the policy's output directory (Lambda's /tmp) inside it: the handler forces /tmp unless
    the policy's mode sets `execution-options.output_dir`, which it merges over the packaged
    options."""
    scratch = tempfile.mkdtemp(prefix="c7n-lambda-")
    with open(os.path.join(config_dir, "config.json")) as f:
        config = json.load(f)
    for policy in config["policies"]:
        options = policy.setdefault("mode", {}).setdefault("execution-options", {})
        options["output_dir"] = os.path.join(scratch, "tmp")
    with open(os.path.join(scratch, "config.json"), "w") as f:
        json.dump(config, f)
    return scratch


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: driver.py EVENT_JSON CONFIG_DIR")
    event_path, config_dir = sys.argv[1], os.path.abspath(sys.argv[2])
    refuse_unless_offline()
    with open(event_path) as f:
        event = json.load(f)
    scratch = scratch_lambda_dir(config_dir)
    os.chdir(scratch)
    # Lambda's Python runtime gives the root logger a handler; c7n logs the event and its steps.
    logging.basicConfig(stream=sys.stderr, format="[%(levelname)s] %(name)s %(message)s")

    t_import = time.perf_counter()
    from c7n import handler
    from c7n.version import version

    t_imported = time.perf_counter()
    handled = handler.dispatch_event(event, LambdaContext())
    t_done = time.perf_counter()

    os.chdir("/")
    shutil.rmtree(scratch, ignore_errors=True)
    if not handled:
        sys.exit(f"c7n's handler did not run the policy (returned {handled!r})")
    print(
        json.dumps(
            {
                "import_ms": (t_imported - t_import) * 1000,
                "first_event_ms": (t_done - t_imported) * 1000,
                "total_ms": (t_done - T0) * 1000,
                "c7n_version": version,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
