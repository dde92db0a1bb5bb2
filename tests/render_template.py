"""A SAM template as CloudFormation will deploy it: SAM's own translator (aws-sam-translator, the
library behind `sam deploy` and CloudFormation's AWS::Serverless transform), offline.

    python tests/render_template.py infra/template.yaml > transformed.json

Prints the transformed template as JSON. Conditions and parameters stay as CloudFormation gets
them; tests/src/render.rs evaluates them for a given set of parameter values.
"""

import json
import os
import sys

# Pseudo parameters SAM resolves itself come from the environment: no AWS call, no account.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402


class NoManagedPolicies:
    """The templates name managed policies by ARN, never by name: nothing to look up in IAM."""

    def load(self):
        return {}


def as_packaged(template):
    """What `sam deploy` hands CloudFormation: local code uploaded, its CodeUri an S3 location."""
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        code = properties.get("CodeUri")
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(code, str):
            if not code.startswith("s3://"):
                properties["CodeUri"] = f"s3://rehearsal-artifacts/{logical_id}.zip"
    return template


def main(path):
    with open(path, encoding="utf-8") as f:
        template = as_packaged(yaml_parse(f.read()))
    print(json.dumps(transform(template, {}, NoManagedPolicies()), indent=1, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
