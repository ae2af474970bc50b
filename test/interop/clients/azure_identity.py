"""Real-client probe: Python azure-identity gets tokens the way an app would.

    python3 azure_identity.py [--aio] <kind> <scope> [<scope> ...]

kinds: default (DefaultAzureCredential()), default-exclude (the same with every credential a pod
does not use excluded, the guide's advice "to speed up authentication"), managed
(ManagedIdentityCredential(client_id=AZURE_CLIENT_ID)), workload (WorkloadIdentityCredential(), what
Azure Workload Identity gives an app; current azure-identity only),
chained (the guide's ChainedTokenCredential(ManagedIdentityCredential(client_id=...),
AzureCliCredential())). --aio uses azure.identity.aio instead.

Runs with Debian's python3-azure (1.13) and with the current release in a venv. The result goes to
file descriptor 3 as one JSON object, never to stdout or stderr (those are logs, audited for
secrets): {"results": [{"scope", "token", "expiresOnTimestamp", "version"}]} (milliseconds, like
the JavaScript clients) or {"error": {"name", "message"}}.
"""
import asyncio
import json
import os
import sys

EXCLUDE_UNUSED = {
    "exclude_environment_credential": True,
    "exclude_workload_identity_credential": True,
    "exclude_shared_token_cache_credential": True,
    "exclude_cli_credential": True,
    "exclude_powershell_credential": True,
    "exclude_developer_cli_credential": True,
    "exclude_visual_studio_code_credential": True,
}


def report(value):
    with os.fdopen(3, "w") as out:
        out.write(json.dumps(value))


def credential(identity, kind):
    client_id = os.environ.get("AZURE_CLIENT_ID")
    if kind == "default":
        return identity.DefaultAzureCredential()
    if kind == "default-exclude":
        return identity.DefaultAzureCredential(**EXCLUDE_UNUSED)
    if kind == "managed":
        return identity.ManagedIdentityCredential(client_id=client_id) if client_id else identity.ManagedIdentityCredential()
    if kind == "workload":
        # instance discovery would ask login.microsoftonline.com about the emulator's host
        return identity.WorkloadIdentityCredential(disable_instance_discovery=True)
    if kind == "chained":
        return identity.ChainedTokenCredential(identity.ManagedIdentityCredential(client_id=client_id), identity.AzureCliCredential())
    raise ValueError("unknown credential kind %s: use default, default-exclude, managed, workload or chained" % kind)


def result(scope, t, version):
    return {"scope": scope, "token": t.token, "expiresOnTimestamp": t.expires_on * 1000, "version": version}


def run_sync(kind, scopes):
    import azure.identity as identity

    cred = credential(identity, kind)
    return [result(scope, cred.get_token(scope), identity.__version__) for scope in scopes]


async def run_aio(kind, scopes):
    import azure.identity
    import azure.identity.aio as identity

    async with credential(identity, kind) as cred:
        return [result(scope, await cred.get_token(scope), azure.identity.__version__) for scope in scopes]


def main():
    args = sys.argv[1:]
    aio = args[:1] == ["--aio"]
    if aio:
        args = args[1:]
    kind, scopes = args[0], args[1:]
    try:
        results = asyncio.run(run_aio(kind, scopes)) if aio else run_sync(kind, scopes)
        report({"results": results})
    except Exception as err:  # the test asserts on the message
        report({"error": {"name": type(err).__name__, "message": str(err)}})
        sys.exit(2)


main()
