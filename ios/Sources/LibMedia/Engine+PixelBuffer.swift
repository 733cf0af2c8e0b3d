// Pushing AVFoundation camera frames (CVPixelBuffer) into the engine.
// Apple platforms only (CoreVideo); the engine needs
// `EngineConfig.videoInput = .external`.

#if canImport(CoreVideo)
import CoreVideo

extension Engine {
    /// Pushes a frame as `AVCaptureVideoDataOutput` delivers it. Set the
    /// output's `videoSettings` to
    /// `kCVPixelFormatType_420YpCbCr8BiPlanarFullRange` (or VideoRange):
    /// NV12, passed without a copy. Planar 4:2:0 buffers go as I420; other
    /// formats throw `.unsupported`.
    ///
    /// - Parameters:
    ///   - rotation: clockwise degrees that make the picture upright,
    ///     from the device orientation and the camera position.
    ///   - timestampUs: the sample's presentation time in microseconds
    ///     (`CMSampleBufferGetPresentationTimeStamp`); 0: now.
    public func pushVideoFrame(_ pixelBuffer: CVPixelBuffer, rotation: UInt32 = 0,
                               timestampUs: UInt64 = 0) throws {
        let format: PixelFormat
        switch CVPixelBufferGetPixelFormatType(pixelBuffer) {
        case kCVPixelFormatType_420YpCbCr8BiPlanarFullRange,
             kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange:
            format = .nv12
        case kCVPixelFormatType_420YpCbCr8Planar,
             kCVPixelFormatType_420YpCbCr8PlanarFullRange:
            format = .i420
        default:
            throw MediaError.unsupported
        }
        CVPixelBufferLockBaseAddress(pixelBuffer, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(pixelBuffer, .readOnly) }

        let planes = CVPixelBufferGetPlaneCount(pixelBuffer)
        func plane(_ index: Int) -> (UnsafePointer<UInt8>?, Int) {
            guard index < planes,
                  let base = CVPixelBufferGetBaseAddressOfPlane(pixelBuffer, index) else {
                return (nil, 0)
            }
            let pointer = UnsafePointer<UInt8>(base.assumingMemoryBound(to: UInt8.self))
            return (pointer, CVPixelBufferGetBytesPerRowOfPlane(pixelBuffer, index))
        }
        let (y, yStride) = plane(0)
        let (u, uStride) = plane(1)
        let (v, vStride) = plane(2)
        guard let luma = y, let chroma = u else {
            throw MediaError.invalidArgument
        }
        try pushVideoFrame(format: format,
                           width: CVPixelBufferGetWidth(pixelBuffer),
                           height: CVPixelBufferGetHeight(pixelBuffer),
                           plane0: luma, stride0: yStride,
                           plane1: chroma, stride1: uStride,
                           plane2: format == .i420 ? v : nil, stride2: format == .i420 ? vStride : 0,
                           rotation: rotation, timestampUs: timestampUs)
    }
}
#endif
