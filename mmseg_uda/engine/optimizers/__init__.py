from .trainable_optim_wrapper_constructor import TrainableOptimWrapperConstructor

__all__ = ["TrainableOptimWrapperConstructor"]
