// The npm package web-push-testing, run as the push service of the Web Push tests.
//
// Its own CLI daemonises the server with node-persist state and listens on every interface;
// here its server and model run in the foreground, on 127.0.0.1 only, so the test owns the
// process. One thing is added that the package does not keep: the RFC 8030 headers of each
// message it took (Urgency, TTL, Topic), read back with POST /get-headers {"clientHash"}.
//
//   node tests/peers/webpush_service.js PORT PACKAGE_DIR
"use strict";

const path = require("path");
const [port, packageDir] = [Number(process.argv[2]), process.argv[3]];
const Server = require(path.join(packageDir, "src/server.js"));
const {PushApiModel} = require(path.join(packageDir, "src/PushApiModel.js"));

const host = "127.0.0.1";
const model = new PushApiModel();
const server = new Server(model, port);
model.notifyUrl = `http://${host}:${port}/notify/`;

const received = {};
server._app.use((req, res, next) => {
    const match = /^\/notify\/([0-9a-f]+)$/.exec(req.path);
    if (req.method === "POST" && match) {
        const headers = {urgency: req.get("Urgency") || null, ttl: req.get("TTL") || null,
                         topic: req.get("Topic") || null};
        res.on("finish", () => {
            (received[match[1]] = received[match[1]] || []).push({...headers,
                                                                   status: res.statusCode});
        });
    }
    next();
});
server._app.post("/get-headers", (req, res) => {
    res.status(200).send({data: {messages: received[req.body.clientHash] || []}});
});
server.setRequestHandlers();
const listener = server._app.listen(port, host, () => console.log(`listening on ${host}:${port}`));
listener.on("error", (err) => { console.error(err); process.exit(1); });
process.on("SIGTERM", () => listener.close(() => process.exit(0)));
