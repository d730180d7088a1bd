/** The meeting-name rule every entry point shares (REST, the app's router, the embed page). */
import { describe, expect, it } from 'vitest';
import { toMeetingName } from './meetingName.js';

describe('meeting names', () => {
  it('accept 3 to 64 letters, digits and inner dashes, folded to lower case', () => {
    expect(toMeetingName('abc')).toBe('abc');
    expect(toMeetingName(' Physics-101 ')).toBe('physics-101');
    expect(toMeetingName('a'.repeat(64))).toBe('a'.repeat(64));
    expect(toMeetingName('abc-defg-hij')).toBe('abc-defg-hij');
  });

  it('refuse a dash at either end, other characters, and names too short or too long', () => {
    for (const bad of ['-abc', 'abc-', '-', 'ab', 'a'.repeat(65), 'a_b_c', 'ab c', 'ärger', 'a/b/c', '']) {
      expect(toMeetingName(bad)).toBeUndefined();
    }
  });
});
