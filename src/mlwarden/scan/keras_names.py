"""Name tables for the Keras config analysis: Keras classes, packages and known gadgets.

Kept apart from the walk in :mod:`mlwarden.scan.keras_config` so the data can grow
(new Keras layers, new gadgets) without touching the logic.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Top-level packages whose modules Keras deserialisation may import without review.
KERAS_PACKAGES: tuple[str, ...] = (
    "keras",
    "keras_nlp",
    "keras_hub",
    "keras_cv",
    "keras_rs",
    "tf_keras",
    "tensorflow.keras",
    "tensorflow.python.keras",
)

#: Layers whose function is Python code rebuilt at load time.
LAMBDA_CLASSES = _words("Lambda __lambda__")

#: Layers that load another model (SavedModel, TF Hub handle) from outside the file.
EXTERNAL_LOADERS = _words("TFSMLayer KerasLayer")

#: Functions inside Keras that load or download another artifact when called.
EXTERNAL_FUNCTIONS = _words(
    "load_model load_weights get_file model_from_json model_from_config model_from_yaml"
)

#: Config keys that point a layer at files outside the archive.
EXTERNAL_PATH_KEYS: tuple[str, ...] = ("filepath", "path", "handle", "saved_model_path")

#: Names that switch Keras safe mode off (CVE-2025-9906 family); flagged anywhere.
UNSAFE_TOGGLES = _words("enable_unsafe_deserialization set_global_attribute safe_mode_saving")

#: Keras-internal callables that run code or disable checks when a config reaches them.
KERAS_GADGETS = UNSAFE_TOGGLES | _words("func_load SafeModeScope")

#: Marker class names of Keras 3 serialisation that never import anything.
SPECIAL_CLASSES = _words(
    "__keras_tensor__ __tensor__ __numpy__ __bytes__ __slice__ __ellipsis__ __lambda__"
)

#: Modules whose functions execute code, touch files/processes/network or deserialise.
DANGEROUS_MODULES = _words(
    """
    builtins __builtin__ os posix nt subprocess sys importlib runpy pickle _pickle cPickle
    dill cloudpickle joblib shelve marshal types code codeop pty webbrowser ctypes shutil
    socket operator functools io pathlib tempfile multiprocessing asyncio signal inspect gc
    urllib http ftplib smtplib telnetlib platform pip setuptools distutils commands popen2
    """
)

#: Function names that execute code or reach arbitrary objects whatever their module.
DANGEROUS_FUNCTIONS = _words(
    """
    eval exec execfile compile system popen popen2 popen3 spawnv spawnve spawnl execv execve
    call check_call check_output run Popen getattr setattr delattr __import__ import_module
    open load loads remove rmtree unlink rename fork kill globals locals vars breakpoint
    input exit attrgetter methodcaller
    """
)

#: Python builtins that are harmless as a function reference (still not a Keras function).
HARMLESS_BUILTINS = _words(
    """
    abs min max len sum round int float bool str tuple list dict set frozenset range zip
    map filter sorted reversed enumerate pow divmod slice hash repr format isinstance any all
    """
)

#: Function names Keras resolves from its own built-in modules before trying ``builtins``.
KERAS_BUILTIN_FUNCTIONS = _words(
    """
    relu relu6 leaky_relu sigmoid hard_sigmoid softmax log_softmax softplus softsign tanh
    linear elu selu gelu silu swish hard_swish hard_silu mish exponential celu glu
    sparse_plus sparsemax squareplus tanh_shrink hard_tanh soft_shrink hard_shrink
    threshold log_sigmoid
    mse mae mape msle mean_squared_error mean_absolute_error mean_absolute_percentage_error
    mean_squared_logarithmic_error binary_crossentropy categorical_crossentropy
    sparse_categorical_crossentropy binary_focal_crossentropy categorical_focal_crossentropy
    hinge squared_hinge categorical_hinge huber log_cosh kld kl_divergence
    kullback_leibler_divergence poisson cosine_similarity ctc dice tversky
    accuracy acc binary_accuracy categorical_accuracy sparse_categorical_accuracy
    top_k_categorical_accuracy sparse_top_k_categorical_accuracy
    """
)

#: tf.keras op-layer functions (``tf.<name>``) that read/write files or run Python.
RISKY_TF_OP_PREFIXES: tuple[str, ...] = (
    "io.read_file",
    "io.write_file",
    "io.gfile.",
    "io.matching_files",
    "compat.v1.io.",
    "compat.v1.read_file",
    "compat.v1.write_file",
    "compat.v1.gfile.",
    "compat.v1.py_func",
    "raw_ops.ReadFile",
    "raw_ops.WriteFile",
    "raw_ops.MatchingFiles",
    "raw_ops.PyFunc",
    "raw_ops.EagerPyFunc",
    "raw_ops.Save",
    "raw_ops.Restore",
    "py_function",
    "numpy_function",
    "saved_model.",
    "summary.",
    "data.experimental.save",
    "data.Dataset.save",
)

#: Keras classes (Keras 2 and 3) that legacy configs name without a module.
KNOWN_CLASSES = _words(
    """
    Sequential Functional Model InputLayer Input Dense EinsumDense Activation Dropout
    SpatialDropout1D SpatialDropout2D SpatialDropout3D GaussianDropout GaussianNoise
    AlphaDropout ActivityRegularization Flatten Reshape Permute RepeatVector Masking Embedding
    Identity Rescaling Normalization CenterCrop Resizing RandomFlip RandomRotation RandomZoom
    RandomTranslation RandomContrast RandomCrop RandomBrightness RandomHeight RandomWidth
    TextVectorization StringLookup IntegerLookup CategoryEncoding Hashing HashedCrossing
    Discretization Conv1D Conv2D Conv3D Conv1DTranspose Conv2DTranspose Conv3DTranspose
    Convolution1D Convolution2D Convolution3D Convolution2DTranspose SeparableConv1D
    SeparableConv2D SeparableConvolution1D SeparableConvolution2D DepthwiseConv1D
    DepthwiseConv2D Cropping1D Cropping2D Cropping3D UpSampling1D UpSampling2D UpSampling3D
    ZeroPadding1D ZeroPadding2D ZeroPadding3D MaxPooling1D MaxPooling2D MaxPooling3D
    AveragePooling1D AveragePooling2D AveragePooling3D MaxPool1D MaxPool2D MaxPool3D AvgPool1D
    AvgPool2D AvgPool3D GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D
    GlobalAveragePooling1D GlobalAveragePooling2D GlobalAveragePooling3D GlobalMaxPool1D
    GlobalMaxPool2D GlobalMaxPool3D GlobalAvgPool1D GlobalAvgPool2D GlobalAvgPool3D LSTM GRU
    SimpleRNN RNN ConvLSTM1D ConvLSTM2D ConvLSTM3D LSTMCell GRUCell SimpleRNNCell
    StackedRNNCells PeepholeLSTMCell Bidirectional TimeDistributed Wrapper CuDNNLSTM CuDNNGRU
    BatchNormalization LayerNormalization GroupNormalization UnitNormalization
    SyncBatchNormalization SpectralNormalization Add Subtract Multiply Average Maximum Minimum
    Concatenate Dot MultiHeadAttention Attention AdditiveAttention GroupQueryAttention ReLU
    LeakyReLU PReLU ELU ThresholdedReLU Softmax TFOpLambda SlicingOpLambda
    InstanceProperty InstanceMethod ClassMethod Layer Lambda TFSMLayer KerasLayer
    Zeros Ones Constant RandomNormal RandomUniform TruncatedNormal VarianceScaling Orthogonal
    GlorotNormal GlorotUniform HeNormal HeUniform LecunNormal LecunUniform
    L1 L2 L1L2 OrthogonalRegularizer MaxNorm MinMaxNorm NonNeg UnitNorm RadialConstraint
    SGD Adam AdamW Adamax Adagrad Adadelta Adafactor Ftrl Lion Nadam RMSprop Lamb Muon
    LossScaleOptimizer LossScaleOptimizerV3 ExponentialDecay PiecewiseConstantDecay
    PolynomialDecay InverseTimeDecay CosineDecay CosineDecayRestarts
    MeanSquaredError MeanAbsoluteError MeanAbsolutePercentageError
    MeanSquaredLogarithmicError BinaryCrossentropy BinaryFocalCrossentropy
    CategoricalCrossentropy CategoricalFocalCrossentropy SparseCategoricalCrossentropy Hinge
    SquaredHinge CategoricalHinge Huber LogCosh KLDivergence Poisson CosineSimilarity Tversky
    Dice CTC LossFunctionWrapper
    Accuracy BinaryAccuracy CategoricalAccuracy SparseCategoricalAccuracy
    TopKCategoricalAccuracy SparseTopKCategoricalAccuracy AUC Precision Recall TruePositives
    TrueNegatives FalsePositives FalseNegatives PrecisionAtRecall RecallAtPrecision
    SensitivityAtSpecificity SpecificityAtSensitivity Mean Sum MeanMetricWrapper MeanIoU IoU
    BinaryIoU OneHotIoU OneHotMeanIoU RootMeanSquaredError R2Score F1Score FBetaScore
    LogCoshError MeanTensor MetricsList
    Policy DTypePolicy FloatDTypePolicy QuantizedDTypePolicy QuantizedFloat8DTypePolicy
    DTypePolicyMap
    """
)
