// Starts a real Bluesky PDS (@atproto/pds) and the did:plc directory it registers accounts with
// (@did-plc/server, in-memory), both on 127.0.0.1, for Syndicator's tests. Nothing leaves loopback:
// no crawlers, no app view, no e-mail (the PDS's mailer then only renders mail as JSON).
//
//   node start-pds.mjs [--exit-on-stdin-close]
//
// Environment (all optional):
//   SYNDICATOR_BLUESKY_PDS_HOME  where install.sh put node_modules
//                                (default ${XDG_CACHE_HOME:-$HOME/.cache}/syndicator-tests/bluesky-pds,
//                                then this script's own folder)
//   PDS_PORT / PLC_PORT          ports to listen on (default: free ports chosen here)
//   PDS_JWT_SECRET, PDS_ADMIN_PASSWORD, PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX
//                                secrets (default: random); any other PDS_* variable the PDS reads
//                                (see @atproto/pds dist/config/env.js) is passed through as given
//   LOG_ENABLED=true             the PDS's and PLC server's request logs (pino, on stdout)
//
// When both servers listen it prints one line:
//   BLUESKY_PDS_READY {"pds":"http://127.0.0.1:N","plc":"http://127.0.0.1:M",...}
// and runs until SIGTERM/SIGINT, or until its stdin closes with --exit-on-stdin-close (so it never
// outlives the test process that started it). The temporary data directory is deleted on exit.

import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { createRequire } from 'node:module'
import { homedir, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const exitOnStdinClose = process.argv.includes('--exit-on-stdin-close')

function packagesHome() {
  const candidates = [
    process.env.SYNDICATOR_BLUESKY_PDS_HOME,
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'syndicator-tests', 'bluesky-pds'),
    here,
  ].filter(Boolean)
  const found = candidates.find((dir) => existsSync(join(dir, 'node_modules', '@atproto', 'pds', 'package.json')))
  if (!found) {
    console.error(`start-pds: @atproto/pds is not installed in any of: ${candidates.join(', ')}. ` +
      `Run: bash ${join(here, 'install.sh')}`)
    process.exit(3)
  }
  return found
}

// A port nobody listens on right now; the PDS must know its own port before it starts (public URL).
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.unref()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

function setDefault(name, value) {
  if (process.env[name] === undefined || process.env[name] === '') process.env[name] = String(value)
}

const home = packagesHome()
const require = createRequire(join(home, 'package.json'))
const { PlcServer, Database: PlcDatabase } = require('@did-plc/server')
const { PDS, readEnv, envToCfg, envToSecrets } = require('@atproto/pds')
const versions = {
  pds: require('@atproto/pds/package.json').version,
  plc: require('@did-plc/server/package.json').version,
  node: process.versions.node,
}

const dataDirectory = mkdtempSync(join(tmpdir(), 'syndicator-bluesky-pds-'))
let plc
let plcHttp
let pds
let stopping = false

async function stop(code) {
  if (stopping) return
  stopping = true
  const deadline = setTimeout(() => process.exit(code), 5000)
  deadline.unref()
  try { await pds?.destroy() } catch { /* exiting anyway */ }
  try { plcHttp?.close() } catch { /* exiting anyway */ }
  try { await plc?.ctx.db.close() } catch { /* exiting anyway */ }
  rmSync(dataDirectory, { recursive: true, force: true })
  process.exit(code)
}

process.on('SIGTERM', () => stop(0))
process.on('SIGINT', () => stop(0))
if (exitOnStdinClose) {
  process.stdin.on('end', () => stop(0))
  process.stdin.on('error', () => stop(0))
  process.stdin.resume()
}

try {
  // did:plc directory: PlcServer.create builds the express app over the in-memory database (what its own
  // bin.js does without DATABASE_URL); we listen on 127.0.0.1 ourselves, as PlcServer.start() would on every
  // interface.
  plc = PlcServer.create({ db: PlcDatabase.mock(), version: versions.plc })
  const plcPort = Number(process.env.PLC_PORT || 0)
  plcHttp = plc.app.listen(plcPort, '127.0.0.1')
  await new Promise((resolve, reject) => { plcHttp.once('listening', resolve); plcHttp.once('error', reject) })
  const plcUrl = `http://127.0.0.1:${plcHttp.address().port}`

  const pdsPort = Number(process.env.PDS_PORT || 0) || await freePort()
  setDefault('PDS_PORT', pdsPort)
  setDefault('PDS_HOSTNAME', 'localhost') // public URL http://localhost:PORT, service DID did:web:localhost
  setDefault('PDS_DEV_MODE', 'true')
  setDefault('PDS_INVITE_REQUIRED', 'false')
  setDefault('PDS_SERVICE_HANDLE_DOMAINS', '.test')
  setDefault('PDS_DATA_DIRECTORY', dataDirectory)
  setDefault('PDS_BLOBSTORE_DISK_LOCATION', join(dataDirectory, 'blobs'))
  setDefault('PDS_BLOBSTORE_DISK_TMP_LOCATION', join(dataDirectory, 'blobs-tmp'))
  setDefault('PDS_DID_PLC_URL', plcUrl)
  setDefault('PDS_JWT_SECRET', randomBytes(16).toString('hex'))
  setDefault('PDS_ADMIN_PASSWORD', randomBytes(16).toString('hex'))
  setDefault('PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX', randomBytes(32).toString('hex'))
  setDefault('PDS_CRAWLERS', '')

  const env = readEnv()
  env.version ||= versions.pds
  pds = await PDS.create(envToCfg(env), envToSecrets(env))
  // PDS.start() starts the sequencer and calls app.listen(port), which would listen on every interface.
  const listen = pds.app.listen.bind(pds.app)
  pds.app.listen = (port, ...rest) => listen(port, '127.0.0.1', ...rest)
  await pds.start()

  const ready = {
    pds: `http://127.0.0.1:${pds.server.address().port}`,
    plc: plcUrl,
    publicUrl: pds.ctx.cfg.service.publicUrl,
    serviceDid: pds.ctx.cfg.service.did,
    handleDomains: pds.ctx.cfg.identity.serviceHandleDomains,
    jwtSecret: process.env.PDS_JWT_SECRET,
    adminPassword: process.env.PDS_ADMIN_PASSWORD,
    dataDirectory,
    versions,
  }
  console.log(`BLUESKY_PDS_READY ${JSON.stringify(ready)}`)
} catch (err) {
  console.error('start-pds: could not start:', err)
  await stop(1)
}
