// A SCIM server built on scimmy + scimmy-routers (express) with an in-memory
// store: the Node peer of bench/run.sh.
//
//   node bench/peers/scimmy-server.cjs PORT TOKEN NODE_MODULES_DIR [SPEC_JSON_FILE]
//
// NODE_MODULES_DIR is the node_modules the harness installed under target/bench/.
// The handlers are what a small server built on the library would write: a Map
// per resource type, lookups by id, a userName index for uniqueness, and
// scimmy's own Filter.match for filtered lists (scimmy sorts and pages the list
// it is given). SPEC_JSON_FILE (bench/dataset.py's `spec`) seeds the store
// before the server listens: the template user goes through the scimmy schema
// coercion a POST goes through, and each user is a copy of the result with its
// own name and the id bench/dataset.py's `user_id` gives.
"use strict";
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const {createRequire} = require("module");

const [port, token, modules, specFile] = process.argv.slice(2);
const load = createRequire(path.join(path.resolve(modules), "noop.js"));
const express = load("express");
const SCIMMY = load("scimmy").default ?? load("scimmy");
const SCIMMYRouters = load("scimmy-routers").default ?? load("scimmy-routers");

SCIMMY.Config.set({
    patch: true, sort: true, etag: false, changePassword: false,
    filter: {supported: true, maxResults: 1000},
    bulk: {supported: true, maxOperations: 1000, maxPayloadSize: 16 * 1024 * 1024},
});

const now = () => new Date().toISOString();
const users = new Map();
const groups = new Map();
const userNames = new Map(); // lower-cased userName -> id

function notFound(id) {
    return new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);
}

function store(map, instance, id, existing) {
    if (map === users) {
        const key = String(instance.userName).toLowerCase();
        const owner = userNames.get(key);
        if (owner !== undefined && owner !== id) throw new SCIMMY.Types.Error(409, "uniqueness", "userName is taken");
        if (existing) userNames.delete(String(existing.userName).toLowerCase());
        userNames.set(key, id);
    }
    const record = {...instance, id, meta: {created: existing?.meta?.created ?? now(), lastModified: now()}};
    map.set(id, record);
    return record;
}

function declare(Resource, map) {
    SCIMMY.Resources.declare(Resource)
        .ingress((resource, instance) => {
            const existing = resource.id ? map.get(resource.id) : undefined;
            if (resource.id && !existing) throw notFound(resource.id);
            return store(map, instance, resource.id ?? crypto.randomUUID(), existing);
        })
        .egress((resource) => {
            if (resource.id) {
                const found = map.get(resource.id);
                if (!found) throw notFound(resource.id);
                return found;
            }
            const all = [...map.values()];
            return resource.filter ? resource.filter.match(all) : all;
        })
        .degress((resource) => {
            const found = map.get(resource.id);
            if (!found) throw notFound(resource.id);
            if (map === users) userNames.delete(String(found.userName).toLowerCase());
            map.delete(resource.id);
        });
}

declare(SCIMMY.Resources.User, users);
declare(SCIMMY.Resources.Group, groups);

if (specFile) {
    const spec = JSON.parse(fs.readFileSync(specFile, "utf8"));
    const userId = (i) => ((i * spec.id_multiplier) % 2 ** 32).toString(16).padStart(8, "0")
        + "-0000-4000-8000-" + i.toString(16).padStart(12, "0");
    // The template goes through scimmy's coercion once; each user is a copy of what came out.
    const template = JSON.stringify({...new SCIMMY.Schemas.User(spec.template, "in")});
    for (let i = 0; i < spec.users; i++) {
        store(users, JSON.parse(template.replaceAll(spec.token, `user${i}`)), userId(i));
    }
    const group = (name, size) => ({
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: name,
        members: Array.from({length: size}, (_, i) => ({value: userId(i)})),
    });
    store(groups, new SCIMMY.Schemas.Group(group("small", spec.small), "in"), crypto.randomUUID());
    store(groups, new SCIMMY.Schemas.Group(group("big", spec.big), "in"), crypto.randomUUID());
}

const app = express();
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    handler: (request) => {
        if (request.header("Authorization") !== `Bearer ${token}`) throw new Error("Authorization not detected!");
        return "bench";
    },
}));
app.listen(Number(port), "127.0.0.1", () => console.log(`scimmy peer on 127.0.0.1:${port}`));
