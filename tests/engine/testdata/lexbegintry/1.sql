CREATE PROCEDURE [usp_LogProcessingExample0] (@logId INT) AS
BEGIN
    SET NOCOUNT ON;

BEGIN TRY
        -- Declare a variable for a result
        DECLARE @ProcessedLogMessage NVARCHAR(200);

        -- Example: Retrieve a message from a log table based on the log ID
SELECT @ProcessedLogMessage = CONCAT('Log ID: ', @logId, ' processed successfully.')
FROM LogTable
WHERE LogId = @logId;

-- Simulate some business logic by updating the log status
UPDATE LogTable
SET Status = 'Processed', ProcessedTime = GETDATE()
WHERE LogId = @logId;

-- Output success message
PRINT @ProcessedLogMessage;
END TRY
BEGIN CATCH
        -- Simplified error handling
        DECLARE @ErrorMsg NVARCHAR(4000) = ERROR_MESSAGE();
        DECLARE @ErrorLine INT = ERROR_LINE();
        DECLARE @ErrorSeverity INT = ERROR_SEVERITY();

        -- Log the error in a hypothetical error logging table
INSERT INTO SystemErrorLog (ErrorMessage, ErrorLine, ErrorSeverity, ErrorTime)
VALUES (@ErrorMsg, @ErrorLine, @ErrorSeverity, GETDATE());

-- Provide a simplified error output
PRINT 'An error occurred during log processing. Details have been recorded.';
END CATCH
END;

CREATE PROCEDURE [usp_LogProcessingExample1] (@logId INT) AS
BEGIN
    SET NOCOUNT ON;

BEGIN TRY
        -- Declare a variable for a result
        DECLARE @ProcessedLogMessage NVARCHAR(200);

        -- Example: Retrieve a message from a log table based on the log ID
SELECT @ProcessedLogMessage = CONCAT('Log ID: ', @logId, ' processed successfully.')
FROM LogTable
WHERE LogId = @logId;

-- Simulate some business logic by updating the log status
UPDATE LogTable
SET Status = 'Processed', ProcessedTime = GETDATE()
WHERE LogId = @logId;

-- Output success message
PRINT @ProcessedLogMessage;
END TRY
BEGIN CATCH
        -- Simplified error handling
        DECLARE @ErrorMsg NVARCHAR(4000) = ERROR_MESSAGE();
        DECLARE @ErrorLine INT = ERROR_LINE();
        DECLARE @ErrorSeverity INT = ERROR_SEVERITY();

        -- Log the error in a hypothetical error logging table
INSERT INTO SystemErrorLog (ErrorMessage, ErrorLine, ErrorSeverity, ErrorTime)
VALUES (@ErrorMsg, @ErrorLine, @ErrorSeverity, GETDATE());

-- Provide a simplified error output
PRINT 'An error occurred during log processing. Details have been recorded.';
END CATCH
END;
