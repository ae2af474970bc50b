"""Real-client probe: Python azure-identity (Debian python3-azure) gets tokens the way an app would.

    /usr/bin/python3 azure_identity.py <default|managed> <scope> [<scope> ...]

The result goes to file descriptor 3 as one JSON object, never to stdout or stderr (those are
logs, audited for secrets): {"results": [{"scope", "token", "expiresOnTimestamp"}]} (milliseconds,
like the JavaScript clients) or {"error": {"name", "message"}}.
"""
import json
import os
import sys


def report(value):
    with os.fdopen(3, "w") as out:
        out.write(json.dumps(value))


def main():
    kind, scopes = sys.argv[1], sys.argv[2:]
    try:
        import azure.identity as identity

        if kind == "default":
            credential = identity.DefaultAzureCredential()
        elif kind == "managed":
            client_id = os.environ.get("AZURE_CLIENT_ID")
            credential = identity.ManagedIdentityCredential(client_id=client_id) if client_id else identity.ManagedIdentityCredential()
        else:
            raise ValueError("unknown credential kind %s: use default or managed" % kind)
        results = []
        for scope in scopes:
            t = credential.get_token(scope)
            results.append({"scope": scope, "token": t.token, "expiresOnTimestamp": t.expires_on * 1000, "version": identity.__version__})
        report({"results": results})
    except Exception as err:  # the test asserts on the message
        report({"error": {"name": type(err).__name__, "message": str(err)}})
        sys.exit(2)


main()
