/**
 * Which simulcast layer a receiver gets: the smallest one at least as tall as the tile it is
 * shown in, so small tiles get the low layer and the speaker's large tile the high one.
 * Senders use scaleResolutionDownBy 4, 2, 1 (lowest layer first), so layer i of n is
 * trackHeight / 2^(n-1-i) pixels tall.
 */

/** Assumed track height when the sender did not say (a 720p camera). */
export const DEFAULT_TRACK_HEIGHT = 720;

export function chooseSpatialLayer(layers: number, trackHeight: number | undefined, tileHeight: number): number {
  if (layers <= 1) return 0;
  const height = trackHeight && trackHeight > 0 ? trackHeight : DEFAULT_TRACK_HEIGHT;
  for (let layer = 0; layer < layers - 1; layer++) {
    const layerHeight = height / 2 ** (layers - 1 - layer);
    // Allow a little upscaling (10%) before paying for the next layer.
    if (layerHeight * 1.1 >= tileHeight) return layer;
  }
  return layers - 1;
}
