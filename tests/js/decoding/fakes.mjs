// Stand-ins for the decoders' libraries, shared by the decoding and session tests.

/** opus-decoder's OpusDecoder: ready at once; every packet is 960 samples of 0.25. */
export class FakeWasmDecoder {
  constructor(options) {
    this.options = options;
    this.ready = Promise.resolve();
  }

  decodeFrame() {
    return { channelData: [new Float32Array(960).fill(0.25)], samplesDecoded: 960, errors: [] };
  }

  free() {}
}
