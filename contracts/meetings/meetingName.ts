/**
 * The meeting-name rule, one definition for everything that accepts a meeting name: the REST
 * API, the app's /meet/<name> router, the embed page, and (next) SIP dial-in addresses.
 * A name is 3 to 64 lower-case letters, digits and dashes that neither starts nor ends with a
 * dash — the form it has in a meeting link. Input is compared case-insensitively.
 */

export const MEETING_NAME = /^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$/;

/** What to tell a person whose name breaks the rule. */
export const MEETING_NAME_RULE = 'A meeting name is 3 to 64 letters, digits and dashes, and does not start or end with a dash.';

/** The canonical (lower-case) meeting name for what someone typed or linked, or undefined if it is not one. */
export function toMeetingName(input: string): string | undefined {
  const name = input.trim().toLowerCase();
  return MEETING_NAME.test(name) ? name : undefined;
}
