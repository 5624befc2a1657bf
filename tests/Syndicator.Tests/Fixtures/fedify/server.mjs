// A fediverse server made with Fedify (an independent ActivityPub implementation), on loopback, for Syndicator's
// interoperability tests (tests/Syndicator.Tests/ActivityPub/FedifyInteropTests.cs). It has two accounts, reader1 and
// reader2, with a shared inbox. Fedify's own inbox code verifies the HTTP signature of everything Syndicator sends
// (fetching Syndicator's key from its actor document) and drops what does not verify, so whatever /control/received
// lists passed Fedify's checks.
//
//   node server.mjs PACKAGES_HOME     prints {"url": "http://127.0.0.1:PORT"} on its first line of stdout
//
// Control endpoints (plain JSON, not ActivityPub):
//   POST /control/follow   {"as": "reader1", "handle": "acct:magazine@127.0.0.1:5000"}   WebFinger, fetch, Follow
//   POST /control/unfollow {"as": "reader1", "actor": URL}                                 Undo(Follow)
//   POST /control/send     {"as": "reader1", "inbox": URL, "activity": {...},
//                           "alter": "none|body|date|digest|replay|forged|impersonate", "spec": "draft-cavage|rfc9421"}
//                          signs a POST with Fedify's signRequest (draft-cavage-http-signatures-12 unless spec says
//                          rfc9421: Signature-Input, Signature, Content-Digest) and answers {"status", "body", "signedWith"};
//                          "replay" sends the same signed request twice and answers the second's status; with
//                          rfc9421, "date" signs with created three hours ago and "digest" replaces Content-Digest
//   GET  /control/received every activity Fedify's inbox accepted, oldest first
//   GET  /control/actor?as=reader1  the account's actor id
const home = process.argv[2];
if (!home) {
  console.error("usage: node server.mjs PACKAGES_HOME");
  process.exit(2);
}
const load = (name) => import(`${home}/node_modules/${name}/dist/mod.js`);
const { createFederation, MemoryKvStore, generateCryptoKeyPair, signRequest } = await load("@fedify/fedify");
const { Accept, Create, Update, Delete, Follow, Undo, Person, Endpoints, Like, Announce } = await load("@fedify/vocab");
const { lookupWebFinger } = await load("@fedify/webfinger");
// Fedify's own clock type, for signing an RFC 9421 request as of three hours ago.
const { Temporal } = await import(`${home}/node_modules/@js-temporal/polyfill/dist/index.esm.js`);
import http from "node:http";

// WebFinger for acct: URIs is always https (RFC 7033). The test server speaks plain http on loopback, where a
// reverse proxy would add TLS in production: only loopback https URLs are rewritten, nothing else.
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (/^https:\/\/127\.0\.0\.1[:/]/.test(url)) {
    const plain = url.replace(/^https:/, "http:");
    return realFetch(typeof input === "string" || input instanceof URL ? plain : new Request(plain, input), init);
  }
  return realFetch(input, init);
};

const accounts = ["reader1", "reader2"];
const keys = Object.fromEntries(await Promise.all(accounts.map(async (a) => [a, await generateCryptoKeyPair("RSASSA-PKCS1-v1_5")])));
const received = [];

const federation = createFederation({ kv: new MemoryKvStore(), allowPrivateAddress: true });
federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (!accounts.includes(identifier)) return null;
    const pairs = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: `Reader ${identifier}`,
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      publicKey: pairs[0].cryptographicKey,
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) => (keys[identifier] ? [keys[identifier]] : []));

const record = async (ctx, activity) => {
  const object = await activity.getObject().catch(() => null);
  received.push({
    type: activity.constructor.name,
    id: activity.id?.href ?? null,
    actor: activity.actorId?.href ?? null,
    inbox: ctx.recipient ?? "shared",
    objectId: activity.objectId?.href ?? object?.id?.href ?? null,
    objectType: object ? object.constructor.name : null,
    objectName: object?.name?.toString() ?? null,
    json: await activity.toJsonLd({ format: "compact" }),
  });
};
federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Accept, record)
  .on(Create, record)
  .on(Update, record)
  .on(Delete, record)
  .on(Announce, record);

let origin;
const contextFor = () => federation.createContext(new URL(origin), undefined);

async function control(path, params, body) {
  const ctx = contextFor();
  switch (path) {
    case "/control/received":
      return received;
    case "/control/actor":
      return { id: ctx.getActorUri(params.get("as")).href };
    case "/control/follow": {
      const jrd = await lookupWebFinger(body.handle, { allowPrivateAddress: true });
      const self = jrd?.links?.find((l) => l.rel === "self" && /activity\+json|ld\+json/.test(l.type ?? ""));
      if (!self) return { error: `no self link in WebFinger for ${body.handle}`, jrd };
      const target = await ctx.lookupObject(self.href);
      if (!target?.inboxId) return { error: `${self.href} is not an actor with an inbox` };
      const follow = new Follow({
        id: new URL(`/follows/${body.as}/${Date.now()}`, origin),
        actor: ctx.getActorUri(body.as),
        object: target.id,
      });
      await ctx.sendActivity({ identifier: body.as }, target, follow);
      return { actor: target.id.href, name: target.name?.toString() ?? null, type: target.constructor.name, followId: follow.id.href, jrd };
    }
    case "/control/unfollow": {
      const target = await ctx.lookupObject(body.actor);
      const undo = new Undo({
        id: new URL(`/undos/${body.as}/${Date.now()}`, origin),
        actor: ctx.getActorUri(body.as),
        object: new Follow({ id: new URL(body.followId), actor: ctx.getActorUri(body.as), object: target.id }),
      });
      await ctx.sendActivity({ identifier: body.as }, target, undo);
      return { ok: true };
    }
    case "/control/send": {
      const other = accounts.find((a) => a !== body.as);
      // "impersonate": the activity claims the other account as its actor, signed with this account's own key.
      const claimed = body.alter === "impersonate" ? other : body.as;
      const activity = { ...body.activity, actor: ctx.getActorUri(claimed).href };
      const text = JSON.stringify(activity);
      const unsigned = new Request(body.inbox, { method: "POST", body: text, headers: { "content-type": "application/activity+json" } });
      // "forged": signed with the other account's key while naming this account's keyId.
      const signingKey = keys[body.alter === "forged" ? other : body.as].privateKey;
      const rfc9421 = body.spec === "rfc9421";
      const threeHoursAgo = Temporal.Now.instant().subtract({ hours: 3 });
      const signed = await signRequest(unsigned, signingKey, new URL(`${ctx.getActorUri(body.as).href}#main-key`), {
        spec: rfc9421 ? "rfc9421" : "draft-cavage-http-signatures-12",
        currentTime: rfc9421 && body.alter === "date" ? threeHoursAgo : undefined,
      });
      const headers = new Headers(signed.headers);
      let sentBody = text;
      if (body.alter === "body") sentBody = text.replace(/"type":"[A-Za-z]+"/, '"type":"Announce"');
      if (body.alter === "date" && !rfc9421) headers.set("date", new Date(Date.now() - 3 * 3600 * 1000).toUTCString());
      if (body.alter === "digest" && !rfc9421) headers.set("digest", "SHA-256=" + Buffer.alloc(32).toString("base64"));
      if (body.alter === "digest" && rfc9421) headers.set("content-digest", "sha-256=:" + Buffer.alloc(32).toString("base64") + ":");
      const send = () => realFetch(body.inbox, { method: "POST", headers, body: sentBody });
      let response = await send();
      if (body.alter === "replay") response = await send();
      const signedWith = headers.has("signature-input") ? "rfc9421" : headers.has("signature") ? "draft-cavage" : "none";
      return { status: response.status, body: await response.text(), signedWith };
    }
    default:
      return null;
  }
}

const server = http.createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url, origin);
    if (url.pathname.startsWith("/control/")) {
      const answer = await control(url.pathname, url.searchParams, raw.length ? JSON.parse(raw.toString("utf8")) : {});
      res.writeHead(answer === null ? 404 : 200, { "content-type": "application/json" });
      res.end(JSON.stringify(answer));
      return;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    const request = new Request(url, { method: req.method, headers, body: ["GET", "HEAD"].includes(req.method) ? undefined : raw });
    const response = await federation.fetch(request, { contextData: undefined });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (error) {
    console.error(error);
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(error?.stack ?? error));
  }
});
server.listen(0, "127.0.0.1", () => {
  origin = `http://127.0.0.1:${server.address().port}`;
  console.log(JSON.stringify({ url: origin }));
});
