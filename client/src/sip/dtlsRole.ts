/**
 * Browser answers take the DTLS server role (a=setup:passive; RFC 5763 §5 lets the answerer
 * choose active or passive), so the side that offered — a phone, or another browser — is the
 * DTLS client. Chromium's ClientHello now spans two packets (its post-quantum key share), and
 * some phones' DTLS servers cannot reassemble it: linphone 5.1 (mbedTLS) fails the handshake
 * when it offers a call to a browser that answers active. As the client, it works.
 */

/** The answer with its DTLS role set to passive (offers, and answers already passive, unchanged). */
export function asDtlsServerAnswer(sdp: string): string {
  return sdp.replace(/^a=setup:active(?=\r?$)/gm, 'a=setup:passive');
}

/** Makes every local answer of this connection a DTLS-server answer. */
export function answerAsDtlsServer(pc: RTCPeerConnection): void {
  const setLocal = pc.setLocalDescription.bind(pc);
  pc.setLocalDescription = ((description?: RTCLocalSessionDescriptionInit) =>
    setLocal(
      description?.type === 'answer' && description.sdp ? { type: 'answer', sdp: asDtlsServerAnswer(description.sdp) } : description,
    )) as RTCPeerConnection['setLocalDescription'];
}
