// A webhook receiver on loopback for the integration tests. It checks every
// delivery's signature with npm's `standardwebhooks` (the Standard Webhooks
// reference library, an implementation independent of scimlink's), answers
// 204 to a delivery that verifies and 503 while told to be down, and keeps
// what it saw. Control: POST /_control {"secrets": [...], "down": bool,
// "delay_ms": n} (answers after n ms, to hold deliveries in flight);
// GET /_received lists what arrived. Prints {"url": ...} first; exits when
// stdin closes (the test ended).
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

let secrets = [];
let down = false;
let delayMs = 0;
const received = [];

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (req.url === '/_control' && req.method === 'POST') {
            const control = JSON.parse(body);
            if (control.secrets) secrets = control.secrets;
            if (typeof control.down === 'boolean') down = control.down;
            if (typeof control.delay_ms === 'number') delayMs = control.delay_ms;
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end('{}');
            return;
        }
        if (req.url === '/_received' && req.method === 'GET') {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify(received));
            return;
        }
        if (down) {
            res.writeHead(503);
            res.end('down for the test');
            return;
        }
        const headers = {
            'webhook-id': req.headers['webhook-id'],
            'webhook-timestamp': req.headers['webhook-timestamp'],
            'webhook-signature': req.headers['webhook-signature'],
        };
        // Which of the secrets verify this delivery (verify throws otherwise).
        const verifiedBy = [];
        secrets.forEach((secret, i) => {
            try {
                new Webhook(secret).verify(body, headers);
                verifiedBy.push(i);
            } catch (e) {
                // not signed with this one
            }
        });
        let event = null;
        try { event = JSON.parse(body); } catch (e) { /* recorded as null */ }
        received.push({
            webhook_id: headers['webhook-id'],
            signatures: (headers['webhook-signature'] || '').split(' ').length,
            verified_by: verifiedBy,
            event,
        });
        setTimeout(() => {
            res.writeHead(verifiedBy.length > 0 ? 204 : 400);
            res.end();
        }, delayMs);
    });
});

server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${port}` }) + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
