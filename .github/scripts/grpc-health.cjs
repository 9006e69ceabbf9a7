// One gRPC health check (grpc.health.v1.Health/Check) of a store node, for the CI image test.
// Usage: node grpc-health.cjs <host:port> [service]; run inside the node image, as
//   docker exec -i <container> node - 127.0.0.1:7001 kv.v1.KV < .github/scripts/grpc-health.cjs
// so that it uses the image's own @grpc/grpc-js and health proto (a script read from stdin resolves
// modules from the working directory, /app). Prints the status; exits 0 on SERVING, 1 otherwise.
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { protoPath } = require('grpc-health-check');

const CHECK_DEADLINE_MS = 2000;
const [target, service = ''] = process.argv.slice(2);
if (target === undefined) {
  process.stderr.write('usage: grpc-health.cjs <host:port> [service]\n');
  process.exit(2);
}
const proto = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, { keepCase: true, enums: String }));
const client = new proto.grpc.health.v1.Health(target, grpc.credentials.createInsecure());
client.Check({ service }, { deadline: Date.now() + CHECK_DEADLINE_MS }, (error, response) => {
  const status = error ? `${grpc.status[error.code] ?? error.code}: ${error.details}` : response.status;
  process.stdout.write(`${target} ${JSON.stringify(service)}: ${status}\n`);
  client.close();
  process.exit(!error && response.status === 'SERVING' ? 0 : 1);
});
