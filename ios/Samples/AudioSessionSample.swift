// AudioSessionSample.swift — a SKETCH of an iOS host app around LibMedia.
//
// Not compiled anywhere yet (no Swift compiler on the machine this was
// written on; it is not part of Package.swift). Copy what you need into an
// app target and expect to adjust it; check on a device:
//  - the rotation table in `CameraCapture.rotation(for:position:)`,
//  - that the engine's audio (cpal's Core Audio backend inside the Rust
//    library) behaves under the host's AVAudioSession: the iOS build of
//    libmedia itself is not verified yet (ios/README.md).
//
// What it shows:
//  1. The host owns AVAudioSession: category `.playAndRecord`, mode
//     `.voiceChat` (the system's voice processing: echo cancellation,
//     gain control). The engine opens its audio only when told
//     (`startLocalAudio`), which CallKit decides: in
//     `provider(_:didActivate:)`, never before.
//  2. Interruptions (a phone call, Siri) stop and restart the engine's
//     audio without ending the call.
//  3. The host owns AVCaptureSession and pushes NV12 camera frames with
//     `Engine.pushVideoFrame(_:rotation:timestampUs:)` (the engine is made
//     with `videoInput = .external`). This part uses the real API
//     (`media_engine_push_video_frame`).
//  4. Or the host runs voice processing itself (`VoiceProcessingAudio`
//     below: AVAudioEngine with voice processing on), pushing microphone
//     PCM with `Engine.pushAudio` and pulling speaker PCM with
//     `Engine.pullAudio` (`media_engine_push_audio` / `pull_audio`), with
//     the engine made for `.external` audio input and output.

import AVFoundation
import CallKit
import LibMedia
import UIKit

// MARK: - Audio session and CallKit

/// Owns the audio session and the CallKit provider for one engine.
final class CallController: NSObject, CXProviderDelegate, EngineDelegate {
    private let provider: CXProvider
    private let callController = CXCallController()
    private var engine: Engine?
    private let camera = CameraCapture()
    /// CallKit's UUID for the call libmedia knows by `callId`.
    private var calls: [UUID: String] = [:]

    override init() {
        let configuration = CXProviderConfiguration()
        configuration.supportsVideo = true
        configuration.maximumCallsPerCallGroup = 1
        configuration.supportedHandleTypes = [.generic]
        provider = CXProvider(configuration: configuration)
        super.init()
        provider.setDelegate(self, queue: nil) // the main queue

        var config = EngineConfig.systemDevices
        config.videoInput = .external // the host's AVCaptureSession feeds video
        do {
            engine = try Engine(config: config, delegate: self, queue: .main)
        } catch {
            print("libmedia: \(error) \(MediaError.lastFailureDetail() ?? "")")
        }
        camera.engine = engine

        NotificationCenter.default.addObserver(
            self, selector: #selector(audioSessionInterrupted(_:)),
            name: AVAudioSession.interruptionNotification,
            object: AVAudioSession.sharedInstance())
    }

    /// Category and mode only; CallKit activates the session.
    private func configureAudioSession() {
        let session = AVAudioSession.sharedInstance()
        do {
            try session.setCategory(.playAndRecord, mode: .voiceChat,
                                    options: [.allowBluetooth, .allowBluetoothA2DP])
            try session.setPreferredSampleRate(48_000)     // Opus runs at 48 kHz
            try session.setPreferredIOBufferDuration(0.02) // 20 ms, one Opus frame
        } catch {
            print("audio session: \(error)")
        }
    }

    // MARK: Placing and answering calls

    func connect(url: String, appId: String, userId: String, token: String) {
        let server = ServerConfig(url: url, appId: appId, userId: userId, token: token)
        do {
            try engine?.connect(server: server)
        } catch {
            print("connect: \(error)")
        }
    }

    /// Outgoing: ask CallKit first; the engine calls in `perform CXStartCallAction`.
    func startCall(to userId: String, video: Bool) {
        let handle = CXHandle(type: .generic, value: userId)
        let action = CXStartCallAction(call: UUID(), handle: handle)
        action.isVideo = video
        callController.request(CXTransaction(action: action)) { error in
            if let error = error {
                print("CallKit refused the call: \(error)")
            }
        }
    }

    func provider(_ provider: CXProvider, perform action: CXStartCallAction) {
        configureAudioSession()
        do {
            let callId = try engine?.call(action.handle.value, video: action.isVideo)
            calls[action.callUUID] = callId
            action.fulfill()
        } catch {
            action.fail()
        }
    }

    func provider(_ provider: CXProvider, perform action: CXAnswerCallAction) {
        configureAudioSession()
        guard let callId = calls[action.callUUID] else {
            action.fail()
            return
        }
        do {
            try engine?.accept(callId: callId)
            action.fulfill()
        } catch {
            action.fail()
        }
    }

    func provider(_ provider: CXProvider, perform action: CXEndCallAction) {
        // Ringing and not answered: reject; otherwise hang up.
        if let callId = calls.removeValue(forKey: action.callUUID) {
            try? engine?.reject(callId: callId)
        }
        try? engine?.hangup()
        camera.stop()
        action.fulfill()
    }

    func provider(_ provider: CXProvider, perform action: CXSetMutedCallAction) {
        do {
            try engine?.muteLocalAudio(action.isMuted)
            action.fulfill()
        } catch {
            action.fail()
        }
    }

    func providerDidReset(_ provider: CXProvider) {
        try? engine?.hangup()
        try? engine?.stopLocalAudio()
        camera.stop()
        calls.removeAll()
    }

    // MARK: Audio starts only when CallKit says so

    func provider(_ provider: CXProvider, didActivate audioSession: AVAudioSession) {
        do {
            try engine?.startLocalAudio()
        } catch {
            print("audio: \(error)")
        }
    }

    func provider(_ provider: CXProvider, didDeactivate audioSession: AVAudioSession) {
        try? engine?.stopLocalAudio()
    }

    /// A phone call or Siri takes the audio: pause the engine's audio I/O,
    /// keep the call, resume when the system says so.
    @objc private func audioSessionInterrupted(_ note: Notification) {
        guard let raw = note.userInfo?[AVAudioSessionInterruptionTypeKey] as? UInt,
              let type = AVAudioSession.InterruptionType(rawValue: raw) else { return }
        switch type {
        case .began:
            try? engine?.stopLocalAudio()
        case .ended:
            let options = (note.userInfo?[AVAudioSessionInterruptionOptionKey] as? UInt)
                .map(AVAudioSession.InterruptionOptions.init(rawValue:)) ?? []
            if options.contains(.shouldResume) {
                try? engine?.startLocalAudio()
            }
        @unknown default:
            break
        }
    }

    // MARK: EngineDelegate (on the main queue, as chosen above)

    func engine(_ engine: Engine, didReceive event: EngineEvent) {
        switch event {
        case .call(let update) where update.progress == .incoming:
            // Report to CallKit; the engine accepts in `perform CXAnswerCallAction`.
            let uuid = UUID()
            calls[uuid] = update.callId
            let callUpdate = CXCallUpdate()
            callUpdate.remoteHandle = CXHandle(type: .generic, value: update.userId ?? "")
            callUpdate.localizedCallerName = update.nickname
            callUpdate.hasVideo = update.video
            provider.reportNewIncomingCall(with: uuid, update: callUpdate) { error in
                if error != nil {
                    try? engine.reject(callId: update.callId ?? "")
                }
            }
        case .call(let update) where update.progress == .accepted:
            camera.start()
        case .call(let update) where update.progress == .ended:
            if let uuid = calls.first(where: { $0.value == update.callId })?.key {
                provider.reportCall(with: uuid, endedAt: nil, reason: .remoteEnded)
                calls.removeValue(forKey: uuid)
            }
            camera.stop()
        case .error(let error, let message):
            print("libmedia error \(String(describing: error)): \(message)")
        default:
            break
        }
    }

    func engine(_ engine: Engine, didReceiveVideoFrame frame: VideoFrame) {
        // Render frame.y / .u / .v (tightly packed I420), e.g. into a
        // CVPixelBuffer for an AVSampleBufferDisplayLayer, or use
        // `engine.frameHandler` to convert on the render thread without
        // the copy.
    }
}

// MARK: - Camera: the host's AVCaptureSession pushes into the engine

final class CameraCapture: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate {
    weak var engine: Engine?
    private let session = AVCaptureSession()
    private let queue = DispatchQueue(label: "camera.frames")
    private var position: AVCaptureDevice.Position = .front
    private var configured = false

    func start() {
        queue.async { [self] in
            if !configured {
                configure()
            }
            if !session.isRunning {
                session.startRunning()
            }
        }
    }

    func stop() {
        queue.async { [self] in
            if session.isRunning {
                session.stopRunning()
            }
        }
    }

    private func configure() {
        session.beginConfiguration()
        session.sessionPreset = .vga640x480
        if let device = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: position),
           let input = try? AVCaptureDeviceInput(device: device),
           session.canAddInput(input) {
            session.addInput(input)
        }
        let output = AVCaptureVideoDataOutput()
        // NV12: what media_pixel_format calls MEDIA_PIXEL_NV12, pushed without a copy.
        output.videoSettings = [
            kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_420YpCbCr8BiPlanarFullRange,
        ]
        output.alwaysDiscardsLateVideoFrames = true
        output.setSampleBufferDelegate(self, queue: queue)
        if session.canAddOutput(output) {
            session.addOutput(output)
        }
        session.commitConfiguration()
        configured = true
    }

    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer,
                       from connection: AVCaptureConnection) {
        guard let pixelBuffer = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        let time = CMTimeConvertScale(CMSampleBufferGetPresentationTimeStamp(sampleBuffer),
                                      timescale: 1_000_000, method: .default)
        let rotation = CameraCapture.rotation(for: UIDevice.current.orientation, position: position)
        // Called on the capture queue at the camera's rate; the engine reads
        // the planes before it returns.
        try? engine?.pushVideoFrame(pixelBuffer, rotation: rotation,
                                    timestampUs: UInt64(clamping: time.value))
    }

    /// Clockwise degrees that make the sensor's picture upright. The
    /// sensors store landscape rows; TO CHECK ON A DEVICE (front cameras
    /// are also mirrored, which the engine does not undo).
    static func rotation(for orientation: UIDeviceOrientation,
                         position: AVCaptureDevice.Position) -> UInt32 {
        switch orientation {
        case .portrait: return 90
        case .portraitUpsideDown: return 270
        case .landscapeLeft: return position == .front ? 180 : 0
        case .landscapeRight: return position == .front ? 0 : 180
        default: return 90
        }
    }
}

// MARK: - Host-owned audio: VoiceProcessingIO feeding push / pull
//
// The app runs the system's voice processing itself (AVAudioEngine with
// voice processing on the input node: echo cancellation, noise
// suppression, gain control) and exchanges PCM with an engine made with
//
//   config.audioInput = .external;  config.audioInputSampleRate = 48000;  config.audioInputChannels = 1
//   config.audioOutput = .external; config.audioOutputSampleRate = 48000; config.audioOutputChannels = 1
//
// The input tap converts to Int16 and pushes; the source node's render
// block pulls. Both engine calls are real-time safe (no lock, allocation
// or system call), so the render block calls `pullAudio` straight into
// the output buffer and allocates nothing itself.
// Start it from CallKit's `provider(_:didActivate:)`, stop it on
// deactivation and on interruptions (with `engine.interruptAudio()`).

final class VoiceProcessingAudio {
    private let audioEngine = AVAudioEngine()
    private let engine: Engine
    private let format = AVAudioFormat(commonFormat: .pcmFormatInt16, sampleRate: 48_000,
                                       channels: 1, interleaved: true)!
    private var converter: AVAudioConverter?
    private var source: AVAudioSourceNode?

    init(engine: Engine) {
        self.engine = engine
    }

    func start() throws {
        let input = audioEngine.inputNode
        try input.setVoiceProcessingEnabled(true)
        let micFormat = input.outputFormat(forBus: 0)
        converter = AVAudioConverter(from: micFormat, to: format)
        // Microphone: converted to 48 kHz Int16 mono and pushed (off the
        // real-time thread: taps run on an AVAudioEngine queue).
        input.installTap(onBus: 0, bufferSize: AVAudioFrameCount(micFormat.sampleRate / 100),
                         format: micFormat) { [weak self] buffer, _ in
            guard let self, let converter = self.converter else { return }
            let capacity = AVAudioFrameCount(Double(buffer.frameLength) * 48_000 / micFormat.sampleRate) + 16
            guard let out = AVAudioPCMBuffer(pcmFormat: self.format, frameCapacity: capacity) else { return }
            var fed = false
            _ = converter.convert(to: out, error: nil) { _, status in
                if fed { status.pointee = .noDataNow; return nil }
                fed = true
                status.pointee = .haveData
                return buffer
            }
            if let samples = out.int16ChannelData?[0] {
                try? self.engine.pushAudio(UnsafeBufferPointer(start: samples, count: Int(out.frameLength)))
            }
        }
        // Speaker: the render block pulls straight into the output buffer.
        let source = AVAudioSourceNode(format: format) { [unowned self] _, _, frameCount, bufferList in
            let buffers = UnsafeMutableAudioBufferListPointer(bufferList)
            let count = Int(frameCount)
            guard let data = buffers[0].mData else { return noErr }
            let samples = data.assumingMemoryBound(to: Int16.self)
            // Fills every sample; silence where nothing was decoded yet.
            _ = try? self.engine.pullAudio(UnsafeMutableBufferPointer(start: samples, count: count))
            return noErr
        }
        self.source = source
        audioEngine.attach(source)
        audioEngine.connect(source, to: audioEngine.mainMixerNode, format: format)
        try audioEngine.start()
    }

    func stop() {
        audioEngine.inputNode.removeTap(onBus: 0)
        audioEngine.stop()
        if let source {
            audioEngine.detach(source)
        }
        source = nil
    }
}
