"""The chart's deployment secrets and the gateway's shared database: each pod mounts only the secret it uses,
as a file, from a chart-made Secret, an existing one, or Azure Key Vault through the Secrets Store CSI driver;
the gateway's replicas get the one PostgreSQL URL."""

import base64

import pytest
from rendering import documents, render

SECRET_DIR = "/var/run/secrets/commentslab"
KEY_VAULT = ["--set", "secrets.keyVault.enabled=true", "--set", "secrets.keyVault.name=commentslab-kv",
             "--set", "secrets.keyVault.tenantId=00000000-0000-0000-0000-000000000001",
             "--set", "azure.workloadIdentity.enabled=true",
             "--set", "azure.workloadIdentity.clientId=00000000-0000-0000-0000-000000000002"]


def _named(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _pod(docs: list[dict], name: str) -> dict:
    return _named(docs, "Deployment")[name]["spec"]["template"]["spec"]


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def _mounted_secret(pod: dict) -> dict:
    (container,) = pod["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "deployment-secrets"]
    assert mount["mountPath"] == SECRET_DIR and mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == "deployment-secrets"]
    return volume


def test_each_pod_mounts_only_its_own_secret_from_a_chart_made_secret(helm):
    rendered = render(helm)
    docs = documents(rendered)
    secret = _named(docs, "Secret")["commentslab-secrets"]
    values = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert set(values) == {"maintainer-token", "pseudonym-key"}
    assert all(len(v) == 48 and v.isalnum() for v in values.values()) and len(set(values.values())) == 2
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"

    gateway, exporter = _pod(docs, "commentslab-gateway"), _pod(docs, "commentslab-exporter")
    assert _mounted_secret(gateway)["secret"]["items"] == [{"key": "maintainer-token", "path": "maintainer-token"}]
    assert _mounted_secret(exporter)["secret"]["items"] == [{"key": "pseudonym-key", "path": "pseudonym-key"}]
    assert _env(gateway["containers"][0])["COMMENTSLAB_MAINTAINER_TOKEN_FILE"] == f"{SECRET_DIR}/maintainer-token"
    assert _env(exporter["containers"][0])["COMMENTSLAB_PSEUDONYM_KEY_FILE"] == f"{SECRET_DIR}/pseudonym-key"
    for value in values.values():  # only in the Secret, never in a pod's spec
        assert rendered.count(base64.b64encode(value.encode()).decode()) == 1 and value not in rendered


def test_the_gateway_replicas_share_one_postgresql_database(helm):
    docs = documents(render(helm))
    gateway = _named(docs, "Deployment")["commentslab-gateway"]
    assert gateway["spec"]["replicas"] >= 2
    command = " ".join(gateway["spec"]["template"]["spec"]["containers"][0]["command"])
    assert "--database-url 'postgresql://commentslab@commentslab-postgresql:5432/votes?sslmode=prefer'" in command
    assert "--closed-registration" in command and "--votes-url" not in command
    assert 'PGPASSWORD="$(cat /var/run/secrets/postgresql/password)"' in command
    opened = documents(render(helm, "--set", "gateway.openRegistration=true"))
    assert "--closed-registration" not in " ".join(_pod(opened, "commentslab-gateway")["containers"][0]["command"])
    external = documents(render(helm, "--set", "postgresql.enabled=false", "--set",
                                "postgresql.external.host=db.postgres.database.azure.com",
                                "--set", "postgresql.external.existingSecret=commentslab-db"))
    command = " ".join(_pod(external, "commentslab-gateway")["containers"][0]["command"])
    assert "postgresql://commentslab@db.postgres.database.azure.com:5432/votes?sslmode=require" in command


def test_an_existing_secret_is_used_and_none_is_made(helm):
    docs = documents(render(helm, "--set", "secrets.existingSecret=my-secrets"))
    assert "commentslab-secrets" not in _named(docs, "Secret")
    for name in ("commentslab-gateway", "commentslab-exporter"):
        assert _mounted_secret(_pod(docs, name))["secret"]["secretName"] == "my-secrets"


def test_key_vault_secrets_come_through_the_csi_driver_one_class_per_consumer(helm):
    docs = documents(render(helm, *KEY_VAULT))
    assert "commentslab-secrets" not in _named(docs, "Secret")
    classes = _named(docs, "SecretProviderClass")
    assert set(classes) == {"commentslab-gateway-secrets", "commentslab-exporter-secrets"}
    gateway_class = classes["commentslab-gateway-secrets"]["spec"]
    assert gateway_class["provider"] == "azure"
    assert gateway_class["parameters"]["keyvaultName"] == "commentslab-kv"
    assert gateway_class["parameters"]["clientID"] == "00000000-0000-0000-0000-000000000002"
    assert "objectName: commentslab-maintainer-token" in gateway_class["parameters"]["objects"]
    assert "objectAlias: maintainer-token" in gateway_class["parameters"]["objects"]
    assert "pseudonym" not in gateway_class["parameters"]["objects"]  # the public door never holds the key
    for name, consumer in (("commentslab-gateway", "gateway"), ("commentslab-exporter", "exporter")):
        csi = _mounted_secret(_pod(docs, name))["csi"]
        assert csi["driver"] == "secrets-store.csi.k8s.io"
        assert csi["volumeAttributes"]["secretProviderClass"] == f"commentslab-{consumer}-secrets"


@pytest.mark.parametrize("missing,message", [("secrets.keyVault.name", "secrets.keyVault.name is required"),
                                             ("secrets.keyVault.tenantId", "secrets.keyVault.tenantId is required")])
def test_key_vault_without_its_settings_fails_naming_the_setting(helm, missing, message):
    import subprocess

    from rendering import CHART

    args = list(KEY_VAULT)
    index = next(i for i, a in enumerate(args) if a.startswith(missing + "="))
    del args[index - 1:index + 1]
    result = subprocess.run([helm, "template", "commentslab", str(CHART), *args], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0 and message in result.stderr
