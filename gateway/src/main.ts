/** `npm start`: runs one Parley gateway node with embedded defaults. */
import cluster from 'node:cluster';
import { runNodes, nodesUnsupported } from './cluster/launcher.js';
import { ConfigError, loadConfig } from './config.js';
import { Gateway } from './gateway.js';
import { createLogger } from '../../server-common/logger.js';
import { startMemoryReducer } from './util/memoryReducer.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  if (config.nodes > 1 && cluster.isPrimary) {
    const why = nodesUnsupported(config);
    if (why) {
      console.error(why);
      process.exit(2);
    }
    await runNodes(config, logger);
    process.stdout.write(`\n  Parley is running as ${config.nodes} gateway nodes. Open ${config.http.publicUrl} in your browser.\n\n`);
    return;
  }
  let gateway: Gateway;
  try {
    gateway = await Gateway.open({ config, logger });
  } catch (err) {
    // An unreachable database, or a schema this Parley cannot use: say why and stop.
    console.error((err as Error).message);
    process.exit(1);
  }
  try {
    await gateway.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES') {
      console.error(`Cannot listen on a port (${e.code}: ${e.message}). Is Parley already running? Set PORT / SIP_PORT to other ports.`);
      process.exit(1);
    }
    throw err;
  }
  startMemoryReducer();
  const users = await gateway.accounts.list();
  const lines = [
    '',
    `  Parley is running.`,
    `  Open ${config.http.publicUrl} in your browser.`,
    `  SIP: udp/tcp ${config.sip.advertisedHost}:${gateway.sip.transport.port}${gateway.sip.transport.tlsPort ? `, tls ${gateway.sip.transport.tlsPort}` : ''}, WebSocket ${config.http.publicUrl.replace(/^http/, 'ws')}/sip — domain ${config.domain}`,
    `  XMPP: tcp ${gateway.xmppListeners.port} (STARTTLS), WebSocket ${config.http.publicUrl.replace(/^http/, 'ws')}/xmpp, BOSH ${config.http.publicUrl}/http-bind`,
    gateway.sip.mediaBridgeAddress
      ? `  Media bridge: rtpengine at ${gateway.sip.mediaBridgeAddress} (phones with plain RTP or SDES can call browsers)`
      : `  No media bridge: phones must speak WebRTC media to call browsers (set PARLEY_MEDIA_BRIDGE, see the README)`,
    ...(config.identity.providers.length
      ? [
          `  Sign-in: ${config.identity.providers.map((p) => `${p.name} (${p.type === 'oidc' ? 'OpenID Connect' : p.type === 'saml' ? 'SAML' : 'SAML federation'})`).join(', ')}${config.auth.localLogin ? ', local passwords' : ''}`,
          ...(config.identity.providers.some((p) => p.type !== 'oidc') ? [`  SAML service provider metadata for IdPs and federations: ${config.http.publicUrl}/auth/saml/metadata`] : []),
        ]
      : []),
    users.length
      ? `  ${users.length} account${users.length === 1 ? '' : 's'}. Add more with: npx parley user add <name> --password <password>`
      : `  No accounts yet. Create one with: npx parley user add alice --password <password>`,
    '',
  ];
  // Of several nodes on one machine, the first one greets.
  if (!cluster.isWorker || process.env.PARLEY_NODE_INDEX === '0') process.stdout.write(lines.join('\n') + '\n');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await gateway.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
