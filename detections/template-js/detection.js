// Example detection in JavaScript: an Okta admin role granted to a user.
//
// A template to copy (see guest-sdk/js/README.md). The same behaviour is
// written in Python and C beside it (detections/template-python,
// detections/example-c); all share these cases.
//
// Rule: a successful `user.account.privilege.grant` whose granted roles
// (`debugContext.debugData.privilegeGranted`) include an admin role. The same
// grant to the same user alerts once an hour; from `burst` grants by one
// actor within an hour the alert is critical.
//
// Config keys ([detections.config.example-js-admin-grant]):
// - admin_roles (["admin"]): case-insensitive fragments of admin role names
// - ignore_actors ([]): actors whose grants never alert
// - burst (3): grants by one actor within an hour that make it critical
import { Alert, detection, hours, key, prefilter, state, where } from './oktawatch.js';

export const { describe, configure, onEvent } = detection({
  id: 'example-js-admin-grant',
  title: 'Okta admin role granted (JavaScript example)',
  version: '0.1.0',
  severity: 'high',
  mitre: ['T1098.003'],
  description: 'An admin role was granted to a user (example detection from the JavaScript template).',
  eventTypes: ['user.account.privilege.grant'],
  // Evaluated by the host (contract 0.2) before onEvent is called.
  prefilters: [prefilter(where('outcome.result').equals('SUCCESS'))],
  config: [
    key.textList('admin_roles', ['admin'], 'case-insensitive fragments of admin role names'),
    key.textList('ignore_actors', [], 'actors whose grants never alert'),
    key.integer('burst', 3, 'grants by one actor within an hour that make the alert critical'),
  ],

  setup(config) {
    const burst = config.get('burst');
    if (burst < 1) throw new Error('burst must be at least 1');
    return {
      adminRoles: config.get('admin_roles').map((r) => r.toLowerCase()),
      ignoreActors: new Set(config.get('ignore_actors').map((a) => a.toLowerCase())),
      burst,
    };
  },

  onEvent(event, alerts, { adminRoles, ignoreActors, burst }) {
    const granted = event.debugData('privilegeGranted');
    if (granted === undefined) return;
    const roles = granted.split(',').map((r) => r.trim()).filter((r) => r !== '');
    const admin = roles.filter((r) => adminRoles.some((f) => r.toLowerCase().includes(f)));
    if (admin.length === 0) return;
    const actor = event.actor.alternateId ?? 'unknown actor';
    if (ignoreActors.has(actor.toLowerCase())) return;
    const target = event.targetOfType('User');
    const user = (target && (target.alternateId ?? target.displayName ?? target.id)) ?? 'unknown user';
    const rolesText = admin.join(', ');

    const grants = state.count(`grants:${actor.toLowerCase()}`, hours(1));
    if (!state.oncePer(`grant:${user.toLowerCase()}:${rolesText.toLowerCase()}`, hours(1))) return;
    const title = `${rolesText} granted to ${user} by ${actor}`;
    const alert = grants >= burst
      ? new Alert(`${title} (${grants} grants within an hour)`).severity('critical')
      : new Alert(title);
    alerts.push(
      alert
        .dedup(`${user}|${rolesText.toLowerCase()}`)
        .field('actor', actor)
        .field('user', user)
        .field('roles', rolesText)
        .field('grants_last_hour', grants)
        .field('client_ip', event.client.ip),
    );
  },
});
