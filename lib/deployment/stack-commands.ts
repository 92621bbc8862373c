/**
 * The package scripts of the Swarm stack, run from the repo on a swarm manager:
 *
 *   bun run stack:deploy [--tls]  build the images, write docker-stack.yaml for LOTTERY_AGENCIES (default 5) and
 *                                 deploy it as stack `lottery` (pinning the central to this node if no node is)
 *   bun run stack:status          the services and every task with its state
 *   bun run stack:rm              remove the stack (the bets volume stays: `docker volume rm lottery_storage`)
 */
import { DEFAULT_STACK_OUTPUT, IMAGE_BUILDS } from "./compose.ts";
import { STORAGE_LABEL } from "./stack-file.ts";

const STACK = "lottery";

/** Runs a command with the terminal as its output; exits with its code when it fails. */
function sh(cmd: string[], what: string): void {
  const { exitCode } = Bun.spawnSync(cmd, { stdio: ["inherit", "inherit", "inherit"] });
  if (exitCode !== 0) {
    console.error(`stack: ${what} failed (exit ${exitCode}): ${cmd.join(" ")}`);
    process.exit(exitCode || 1);
  }
}

function output(cmd: string[]): string {
  const proc = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return proc.exitCode === 0 ? proc.stdout.toString().trim() : "";
}

function deploy(args: string[]): void {
  if (output(["docker", "info", "--format", "{{.Swarm.ControlAvailable}}"]) !== "true") {
    console.error("stack: this Docker engine is not a swarm manager: `docker swarm init` (one node) or join a swarm first");
    process.exit(1);
  }
  const agencies = process.env.LOTTERY_AGENCIES ?? "5";
  for (const build of IMAGE_BUILDS) sh([...build], "docker build");
  sh(["bun", "gen-compose.ts", "--stack", ...args, DEFAULT_STACK_OUTPUT, agencies], "gen-compose");
  // The central's volume lives on one node: the first deploy pins it to this one; later ones keep the pin.
  if (output(["docker", "node", "ls", "-q", "--filter", `node.label=${STORAGE_LABEL}=true`]) === "") {
    const self = output(["docker", "info", "--format", "{{.Swarm.NodeID}}"]);
    sh(["docker", "node", "update", "--label-add", `${STORAGE_LABEL}=true`, self], "labelling this node for the central");
    console.log(`stack: the central (and its volume) will run on this node (${self}), labelled ${STORAGE_LABEL}=true`);
  }
  sh(["docker", "stack", "deploy", "-c", DEFAULT_STACK_OUTPUT, STACK], "docker stack deploy");
}

const [command, ...args] = Bun.argv.slice(2);
switch (command) {
  case "deploy":
    deploy(args);
    break;
  case "status":
    sh(["docker", "stack", "services", STACK], "docker stack services");
    sh(["docker", "stack", "ps", STACK, "--format", "table {{.Name}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}"], "docker stack ps");
    break;
  case "rm":
    sh(["docker", "stack", "rm", STACK], "docker stack rm");
    console.log(`stack: the bets stay on the volume ${STACK}_storage; \`docker volume rm ${STACK}_storage\` removes them`);
    break;
  default:
    console.error("usage: bun lib/deployment/stack-commands.ts deploy [--tls] | status | rm");
    process.exit(2);
}
