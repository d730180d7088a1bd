/** Why a call ended, in words a person understands, from the SIP status or JsSIP cause. */

export function describeFailure(
  peerName: string,
  status: number | undefined,
  cause: string | undefined,
  direction: 'outgoing' | 'incoming',
  /** The response's Warning header (RFC 3261 §20.43), which says why a server refused. */
  warning?: string,
): string {
  if (direction === 'incoming') {
    if (cause === 'Canceled') return `Missed call from ${peerName}`;
    return `Call with ${peerName} ended`;
  }
  switch (status) {
    case 480:
    case 430:
    case 410:
      return `${peerName} is not reachable right now`;
    case 404:
    case 604:
      return `There is no user called ${peerName}`;
    case 486:
    case 600:
      return `${peerName} is busy`;
    case 603:
      return `${peerName} declined`;
    case 408:
      return `${peerName} did not answer`;
    case 487:
      return 'Call cancelled';
    case 488:
    case 606:
      if (warning && /no media bridge/i.test(warning)) {
        return `${peerName}'s phone cannot talk to a browser on this server: it sends another kind of audio, and the server has no media bridge to convert it. Ask your administrator to set one up (rtpengine).`;
      }
      return `Your device and ${peerName}'s could not agree on audio/video settings`;
    case 403:
      return 'You are not allowed to make this call; try signing in again';
  }
  switch (cause) {
    case 'Canceled':
      return 'Call cancelled';
    case 'User Denied Media Access':
      return 'Parley may not use your microphone or camera. Allow access in the browser and try again.';
    case 'Connection Error':
      return 'Lost the connection to the server. Check your network and try again.';
    case 'Request Timeout':
    case 'No Answer':
      return `${peerName} did not answer`;
    case 'RTP Timeout':
      return `Lost the audio/video connection to ${peerName}`;
    case 'WebRTC Error':
      return 'Your browser could not start the call (WebRTC error)';
  }
  return status ? `The call failed (${status})` : 'The call failed';
}
