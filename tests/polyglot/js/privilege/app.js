// A successful `user.account.privilege.grant` raises an alert: the same
// detection as tests/polyglot/python/privilege and tests/polyglot/c, written
// against the bindings componentize-js generates from the contract.

export function describe() {
  return {
    id: "js-privilege-grant",
    title: "Admin privilege granted (JavaScript)",
    version: "1.0.0",
    severity: "high",
    mitre: ["T1098.003"],
    description: "A successful user.account.privilege.grant.",
    eventTypes: ["user.account.privilege.grant"],
  };
}

export function configure(_config) {}

export function onEvent(event) {
  if (event.getStr("outcome.result") !== "SUCCESS") {
    return [];
  }
  const actor = event.getStr("actor.alternateId") ?? "unknown";
  const target = event.getStr("target[0].alternateId") ?? "unknown";
  console.log(`privilege grant by ${actor} to ${target} at ${new Date().toISOString()} r=${Math.random()}`);
  return [{
    title: `${actor} granted admin privileges to ${target}`,
    severity: undefined,
    dedupKey: target,
    context: [["actor", actor], ["target", target]],
    mitre: [],
  }];
}
