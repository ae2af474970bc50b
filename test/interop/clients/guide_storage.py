"""The Azure Identity guide's snippets for Python, as an app in a pod would run them.

    python guide_storage.py blob <account_url> <container>        DefaultAzureCredential + BlobServiceClient
    python guide_storage.py blob-aio <account_url> <container>    the same with azure.identity.aio + azure.storage.blob.aio
    python guide_storage.py chained <scope>                       ChainedTokenCredential(ManagedIdentityCredential(client_id=...), AzureCliCredential()).get_token(scope)

The result goes to file descriptor 3 as one JSON object, never to stdout or stderr (those are
logs, audited for secrets): {"blob": {"container", "downloaded"}} or {"results": [{"scope",
"token", "expiresOnTimestamp", "credential"}]} or {"error": {"name", "message"}}.
"""
import asyncio
import json
import os
import sys

CONTENT = b"written through a token from the entra-sidecar"


def report(value):
    with os.fdopen(3, "w") as out:
        out.write(json.dumps(value))


def blob(account_url, container_name):
    from azure.identity import DefaultAzureCredential
    from azure.storage.blob import BlobServiceClient

    blob_service_client = BlobServiceClient(account_url, credential=DefaultAzureCredential())
    container_client = blob_service_client.create_container(container_name)
    container_client.upload_blob("hello.txt", CONTENT)
    downloaded = container_client.download_blob("hello.txt").readall()
    return {"blob": {"container": container_name, "downloaded": downloaded.decode()}}


async def blob_aio(account_url, container_name):
    from azure.identity.aio import DefaultAzureCredential
    from azure.storage.blob.aio import BlobServiceClient

    async with DefaultAzureCredential() as credential:
        async with BlobServiceClient(account_url, credential=credential) as blob_service_client:
            container_client = await blob_service_client.create_container(container_name)
            await container_client.upload_blob("hello.txt", CONTENT)
            stream = await container_client.download_blob("hello.txt")
            downloaded = await stream.readall()
    return {"blob": {"container": container_name, "downloaded": downloaded.decode()}}


def chained(scope):
    from azure.identity import AzureCliCredential, ChainedTokenCredential, ManagedIdentityCredential

    managed_identity = ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"])
    azure_cli = AzureCliCredential()
    credential_chain = ChainedTokenCredential(managed_identity, azure_cli)
    token = credential_chain.get_token(scope)
    return {"results": [{"scope": scope, "token": token.token, "expiresOnTimestamp": token.expires_on * 1000}]}


def main():
    what, args = sys.argv[1], sys.argv[2:]
    try:
        if what == "blob":
            report(blob(*args))
        elif what == "blob-aio":
            report(asyncio.run(blob_aio(*args)))
        elif what == "chained":
            report(chained(*args))
        else:
            raise ValueError("unknown snippet %s: use blob, blob-aio or chained" % what)
    except Exception as err:  # the test asserts on the message
        report({"error": {"name": type(err).__name__, "message": str(err)}})
        sys.exit(2)


main()
