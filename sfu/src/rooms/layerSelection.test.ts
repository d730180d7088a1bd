import { describe, expect, it } from 'vitest';
import { chooseSpatialLayer } from './layerSelection.js';

describe('simulcast layer selection', () => {
  it('gives a thumbnail the lowest layer of a 720p camera', () => {
    expect(chooseSpatialLayer(3, 720, 120)).toBe(0); // layer 0 is 180 px tall
  });
  it('gives a medium tile the middle layer', () => {
    expect(chooseSpatialLayer(3, 720, 300)).toBe(1); // 360 px
  });
  it('gives a large tile the full layer', () => {
    expect(chooseSpatialLayer(3, 720, 700)).toBe(2);
    expect(chooseSpatialLayer(3, 720, 2000)).toBe(2);
  });
  it('uses the only layer of a stream without simulcast', () => {
    expect(chooseSpatialLayer(1, 1080, 100)).toBe(0);
  });
  it('assumes a 720p track when the sender did not say its height', () => {
    expect(chooseSpatialLayer(3, undefined, 150)).toBe(0);
    expect(chooseSpatialLayer(3, 0, 350)).toBe(1);
  });
  it('tolerates slight upscaling rather than jumping a layer', () => {
    expect(chooseSpatialLayer(3, 720, 195)).toBe(0);
    expect(chooseSpatialLayer(3, 720, 200)).toBe(1);
  });
});
