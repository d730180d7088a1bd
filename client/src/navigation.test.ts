/** The app's /meet/<name> router follows the same meeting-name rule as the server. */
import { describe, expect, it } from 'vitest';
import { meetingNameOf } from './navigation';

describe('meeting links', () => {
  it('find the meeting name in /meet/<name>, as the server names meetings', () => {
    expect(meetingNameOf('/meet/abc-defg-hij')).toBe('abc-defg-hij');
    expect(meetingNameOf('/meet/Team-Lunch/')).toBe('team-lunch');
  });

  it('do not treat a path the server would refuse as a meeting', () => {
    for (const path of ['/meet/-abc', '/meet/abc-', '/meet/ab', '/meet/a_b', '/meet/', '/meet/abc/extra', '/calls']) {
      expect(meetingNameOf(path)).toBeUndefined();
    }
  });
});
