/**
 * Why a room (or the node's room manager) refused something, in the rooms' own terms. Rooms do
 * not know the wire protocol: the signalling layer maps each reason to a protocol error code,
 * and a future entry point (a SIP dial-in leg) maps them to its own answers.
 */
export type RoomErrorReason =
  /** The meeting has as many participants as it may. */
  | 'meeting-full'
  /** This node hosts as many conferences as it may. */
  | 'node-full'
  /** Another node hosts this conference, or the room closed here (it moved). */
  | 'hosted-elsewhere'
  /** No such transport, producer or consumer in this participant's own session. */
  | 'not-yours'
  /** Not possible in this state (a second camera stream, a video kind for a mic …). */
  | 'invalid'
  /** The participant left while the action was under way. */
  | 'left';

export class RoomError extends Error {
  constructor(
    readonly reason: RoomErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'RoomError';
  }
}
