"""scim2-server (PyPI) as its own `scim2-server` command runs it, with its
in-memory storage filled before it listens: the Python peer of bench/run.sh.

    target/bench/venv/bin/python bench/peers/scim2_server_seeded.py USERS -- --port P --bearer-token T

USERS users (and the spare pool and groups of bench/dataset.py) are put in
the storage in process, before it serves, because over HTTP the server
creates a few hundred users a second; they get bench/dataset.py's ids, so
every server holds the same ids.
"""
import json
import os
import sys
import uuid

sys.dont_write_bytecode = True  # no __pycache__ beside the sources (not ignored by git)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import dataset  # noqa: E402
from scim2_models import Meta  # noqa: E402
from scim2_server.testserver import cli  # noqa: E402


def seed(app, users):
    """Fills the storage through its `resources` setter (the way a dump is
    loaded back). The template user is validated by the server's own creation
    path (`read_creation`, as a POST body); each user is a copy of it with its
    own name, email, externalId and id."""
    service, storage = app.service, app.storage
    spec = dataset.spec(users)
    now = storage.clock()

    def meta(resource_type):
        return Meta(resource_type=resource_type, created=now, last_modified=now, version=storage.next_version())

    def read(endpoint, body):
        resource_type = service.resource_type_at(endpoint)
        return service.read_creation(resource_type, json.dumps(body).encode(), "application/scim+json")

    with service.provider:
        template = read("Users", dataset.user_resource(dataset.TOKEN))
        resources = []
        for i in range(spec["users"]):
            name = dataset.user_name(i)
            body = dataset.user_resource(name)
            resources.append(template.model_copy(update={
                "id": dataset.user_id(i),
                "meta": meta("User"),
                "user_name": body["userName"],
                "external_id": body["externalId"],
                "display_name": body["displayName"],
                "name": template.name.model_copy(update={"family_name": name}),
                "emails": [template.emails[0].model_copy(update={"value": body["emails"][0]["value"]})],
            }))
        for name, size in (("small", spec["small"]), ("big", spec["big"])):
            group = read("Groups", dataset.group_resource(name, [dataset.user_id(i) for i in range(size)]))
            resources.append(group.model_copy(update={"id": uuid.uuid4().hex, "meta": meta("Group")}))
        storage.resources = resources


def main():
    users = int(sys.argv[1])
    args = sys.argv[sys.argv.index("--") + 1:]
    real_make_server = cli.make_server

    def make_server(host, port, app, server_class):
        seed(app, users)
        return real_make_server(host, port, app, server_class=server_class)

    cli.make_server = make_server
    sys.argv = ["scim2-server", *args]
    cli.main()


if __name__ == "__main__":
    main()
