/** React state mirroring a MeetingClient. */
import { useEffect, useState } from 'react';
import type { MeetingClient, MeetingState } from '../meeting/meetingClient';

export function useMeetingState(client: MeetingClient): MeetingState {
  const [state, setState] = useState(client.state);
  useEffect(() => client.on('state', setState), [client]);
  return state;
}
