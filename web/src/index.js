// The runtime-free part of the package: latents, model checks, images, PNG, and the Generator
// class, which takes the ONNX Runtime module it runs on (./browser.js and ./node.js pass theirs).

export { latentForSeed, latentsForSeeds, slerp, interpolation, linspace01 } from './latents.js';
export { PCG64 } from './pcg64.js';
export { standardNormalF32 } from './ziggurat.js';
export { generatorInfo, ModelError, METADATA_KEY } from './model_info.js';
export { readOnnx } from './onnx_file.js';
export { toUint8, gridSize, GridCanvas, toRgba, clampToAlpha, unpremultiply, picturePixels } from './images.js';
export { encodePng } from './png.js';
export { Generator, DEFAULT_BATCH_SIZE, range } from './generator.js';
