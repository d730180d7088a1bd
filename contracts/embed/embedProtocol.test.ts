/** The embed protocol's parser: both sides drop anything that is not a well-formed message of ours. */
import { describe, expect, it } from 'vitest';
import { embedMessage, parseEmbedMessage } from './embedProtocol.js';

describe('embed protocol', () => {
  it('accepts its own commands and events', () => {
    expect(parseEmbedMessage(embedMessage('command', 'toggleAudio', {}))).toMatchObject({ kind: 'command', name: 'toggleAudio' });
    expect(parseEmbedMessage(embedMessage('command', 'setTheme', { theme: 'dark' }))).toMatchObject({ data: { theme: 'dark' } });
    expect(parseEmbedMessage(embedMessage('event', 'participantJoined', { id: 'p1', displayName: 'Ann' }))).toMatchObject({
      kind: 'event',
      name: 'participantJoined',
      data: { id: 'p1', displayName: 'Ann' },
    });
  });

  it('ignores other versions, unknown names, wrong kinds and junk without throwing', () => {
    const ok = embedMessage('command', 'join', {});
    for (const junk of [
      null,
      undefined,
      'toggleAudio',
      42,
      [],
      { ...ok, version: 2 },
      { ...ok, protocol: 'other' },
      { ...ok, name: 'rm -rf' },
      { ...ok, kind: 'event' }, // join is a command, not an event
      { ...ok, data: 'text' },
      { ...ok, data: [1] },
      Object.create(null),
      embedMessage('command', 'sendMessage', { text: 42 }),
      embedMessage('command', 'setDisplayName', {}),
      embedMessage('command', 'setTheme', { theme: 'neon' }),
      { ...ok, name: 'hasOwnProperty' },
    ]) {
      expect(parseEmbedMessage(junk)).toBeNull();
    }
  });
});
