// What turns a style reference image into a style embedding [1, E] for the IP-Adapter's image
// projection: the default model's own style encoder (64x64 input, bilinear resize), or the
// public IP-Adapter's CLIP image encoder (CLIPVisionModelWithProjection's image_embeds after
// CLIPImageProcessor's preprocessing).

import Models
import PNGIO
import Tensors

public enum StyleImageEncoder {
    case stylediff(StyleEncoder)
    case clip(CLIPVisionModelWithProjection, CLIPImagePreprocessor)

    /// The embedding width E.
    public var embeddingDimension: Int {
        switch self {
        case .stylediff(let e): return e.configuration.embedDim
        case .clip(let model, _): return model.configuration.projectionDim
        }
    }

    /// The embedding [1, E] of one image.
    public func embed(_ image: RGBImage) throws -> Tensor {
        switch self {
        case .stylediff(let e):
            let size = e.imageSize
            return try e.embed(ImageResampler.tensor(ImageResampler.resize(image, width: size, height: size)))
        case .clip(let model, let preprocess):
            return try model(preprocess(image))
        }
    }
}
